namespace LoKO.Server.Tests;

/// <summary>The built server, for tests that run it as a child process (`dotnet LoKO.Server.dll …`).</summary>
public static class ServerBinary
{
    /// <summary>The server project's own output (its deps and runtime config), else the copy next to this assembly.</summary>
    public static string Dll
    {
        get
        {
            var baseDirectory = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
            for (var dir = new DirectoryInfo(baseDirectory); dir?.Parent is not null; dir = dir.Parent)
            {
                if (dir.Name != "LoKO.Server.Tests") continue;
                var candidate = Path.Combine(dir.Parent.FullName, "..", "src", "LoKO.Server",
                    Path.GetRelativePath(dir.FullName, baseDirectory), "LoKO.Server.dll");
                if (File.Exists(candidate)) return Path.GetFullPath(candidate);
            }
            var local = Path.Combine(baseDirectory, "LoKO.Server.dll");
            Assert.True(File.Exists(local), $"LoKO.Server.dll not found from {baseDirectory}");
            return local;
        }
    }
}
