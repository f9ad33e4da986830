namespace LoKO.Engine.Data;

/// <summary>
/// Where the fetched data sets live (see scripts/fetch-data.sh): <c>LOKO_DATA_DIR</c> when set,
/// else <c>data/</c> at the repository root.
/// </summary>
public static class DataPaths
{
    public const string EnvironmentVariable = "LOKO_DATA_DIR";

    // The nearest folder above the binaries that holds one of these is the repository root.
    private static readonly string[] RootMarkers = ["LoKO.sln", "LoKO.slnx", "Directory.Packages.props"];

    public static string DataDirectory() =>
        Resolve(Environment.GetEnvironmentVariable(EnvironmentVariable), AppContext.BaseDirectory);

    /// <summary>
    /// <paramref name="configured"/> when given, else <c>data</c> in the nearest folder at or
    /// above <paramref name="start"/> that holds LoKO.sln (or LoKO.slnx, or Directory.Packages.props).
    /// </summary>
    public static string Resolve(string? configured, string start)
    {
        if (!string.IsNullOrWhiteSpace(configured))
            return Path.GetFullPath(configured);

        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            if (RootMarkers.Any(marker => File.Exists(Path.Combine(dir.FullName, marker))))
                return Path.Combine(dir.FullName, "data");
        }
        throw new DirectoryNotFoundException(
            $"No repository root (a folder holding {string.Join(" or ", RootMarkers)}) at or above " +
            $"'{start}'; set {EnvironmentVariable} to the data folder.");
    }

    public static string MnistDirectory() => Path.Combine(DataDirectory(), "mnist");

    public static string FortunesDirectory() => Path.Combine(DataDirectory(), "fortunes");

    public static string DebianDirectory() => Path.Combine(DataDirectory(), "debian");

    /// <summary>The folder itself, or a message that says how to fetch it.</summary>
    internal static string RequireDirectory(string directory, string what)
    {
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException(
                $"The {what} data is not in '{directory}'. Run scripts/fetch-data.sh (or set {EnvironmentVariable}).");
        return directory;
    }
}
