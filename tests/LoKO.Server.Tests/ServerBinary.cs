using LoKO.Server.Tests.Tools;

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

    /// <summary>
    /// Runs the built server to its exit (a start that is refused) on free loopback ports with
    /// <paramref name="dataDirectory"/> and <paramref name="settings"/> after them.
    /// </summary>
    public static Task<ChildProcessResult> RunToExitAsync(string dataDirectory, IEnumerable<string> settings) =>
        ChildProcess.RunAsync("dotnet", [
            Dll,
            "--urls", $"http://127.0.0.1:{LoKOTestServer.FreePort()}",
            $"--LoKO:GrpcUrl=http://127.0.0.1:{LoKOTestServer.FreePort()}",
            .. LoKOTestServer.OrleansPortArguments(),
            $"--LoKO:DataDirectory={dataDirectory}",
            .. settings,
        ], TimeSpan.FromSeconds(90), Path.GetDirectoryName(Dll));
}
