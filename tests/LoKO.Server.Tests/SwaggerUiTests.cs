using System.Text.Json;
using System.Text.RegularExpressions;
using LoKO.Server.Tests.Tools;

namespace LoKO.Server.Tests;

/// <summary>
/// Swagger UI as a user's browser renders it: headless Chromium (Debian's package) loads /swagger/index.html from the
/// running server, runs its scripts, and the rendered page lists every operation of the OpenAPI document, with the
/// "Authorize" button of the bearer scheme.
/// </summary>
[Collection(SharedServerCollection.Name)]
public class SwaggerUiTests(SharedServer shared)
{
    LoKOTestServer S => shared.Server;

    [ToolFact("chromium", "chromium-browser")]
    public async Task HeadlessChromiumRendersSwaggerUiWithEveryRouteOfTheDocument()
    {
        using var spec = JsonDocument.Parse(await S.Http.GetStringAsync("/swagger/v1/swagger.json"));
        var documented = spec.RootElement.GetProperty("paths").EnumerateObject()
            .SelectMany(p => p.Value.EnumerateObject().Select(o => $"{o.Name.ToUpperInvariant()} {p.Name}"))
            .Order().ToList();
        Assert.True(documented.Count >= 12, $"only {documented.Count} operations documented");

        var dom = await RenderAsync(new Uri(S.Http.BaseAddress!, "/swagger/index.html"));
        var rendered = Regex.Matches(dom, "opblock-summary-method\">([A-Z]+)</span>.{0,200}?data-path=\"([^\"]+)\"")
            .Select(m => $"{m.Groups[1].Value} {m.Groups[2].Value}").Order().ToList();
        Assert.Equal(documented, rendered);
        Assert.Contains("btn authorize", dom);
        Assert.StartsWith("LoKO", Regex.Match(dom, "class=\"title\">([^<]*)").Groups[1].Value, StringComparison.Ordinal);
    }

    /// <summary>The page's DOM after its scripts ran (Chromium's --dump-dom with a virtual-time budget).</summary>
    static async Task<string> RenderAsync(Uri page)
    {
        var profile = Path.Combine(Path.GetTempPath(), "loko-chromium-" + Guid.NewGuid().ToString("N"));
        try
        {
            // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
            var run = await ChildProcess.RunAsync(ExternalTool.Require("chromium", "chromium-browser"),
                ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", $"--user-data-dir={profile}",
                 "--virtual-time-budget=15000", "--dump-dom", page.ToString()], TimeSpan.FromSeconds(90));
            Assert.True(run.ExitCode == 0 && run.Stdout.Length > 0, $"chromium exited with {run.ExitCode}: {run.Stderr}");
            return run.Stdout;
        }
        finally
        {
            try { Directory.Delete(profile, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
