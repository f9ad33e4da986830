using System.Diagnostics;
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
        var start = new ProcessStartInfo(ExternalTool.Require("chromium", "chromium-browser"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var profile = Path.Combine(Path.GetTempPath(), "loko-chromium-" + Guid.NewGuid().ToString("N"));
        // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        foreach (var arg in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", $"--user-data-dir={profile}",
                     "--virtual-time-budget=15000", "--dump-dom", page.ToString() })
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("chromium did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try { await process.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("chromium did not finish within 90 s: " + await stderr);
        }
        finally
        {
            try { Directory.Delete(profile, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        var dom = await stdout;
        Assert.True(process.ExitCode == 0 && dom.Length > 0, $"chromium exited with {process.ExitCode}: {await stderr}");
        return dom;
    }
}
