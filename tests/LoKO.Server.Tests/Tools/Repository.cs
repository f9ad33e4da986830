namespace LoKO.Server.Tests.Tools;

/// <summary>The repository's root folder (the one holding LoKO.sln), for the shipped deploy/ files.</summary>
public static class Repository
{
    public static string Root { get; } = Find();

    static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "LoKO.sln"))) return dir.FullName;
        throw new InvalidOperationException("LoKO.sln not found above " + AppContext.BaseDirectory);
    }
}
