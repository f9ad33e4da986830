namespace LoKO.Server.Tests.Tools;

/// <summary>
/// A program from the machine (Debian's prometheus, chromium) that a test drives as a child process. Without it the
/// test is reported as skipped with the reason, never as passed; under CI=true (where .ci/run installs it) it fails.
/// </summary>
public static class ExternalTool
{
    /// <summary>The first of <paramref name="names"/> found on PATH, or null.</summary>
    public static string? Find(params string[] names)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var name in names)
            foreach (var dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            {
                var candidate = Path.Combine(dir, name);
                if (File.Exists(candidate)) return candidate;
            }
        return null;
    }

    public static string Require(params string[] names) =>
        Find(names) ?? throw new InvalidOperationException(MissingMessage(names));

    public static string MissingMessage(string[] names) =>
        $"none of {string.Join(", ", names)} is on PATH (.ci/run installs Debian's package)";

    public static bool Required =>
        Environment.GetEnvironmentVariable("CI") is { } ci && (ci.Equals("true", StringComparison.OrdinalIgnoreCase) || ci == "1");
}

/// <summary>A test that needs one of the named programs: skipped without it, failing under CI=true.</summary>
public sealed class ToolFactAttribute : FactAttribute
{
    public ToolFactAttribute(params string[] names)
    {
        if (ExternalTool.Find(names) is null && !ExternalTool.Required) Skip = ExternalTool.MissingMessage(names);
    }
}
