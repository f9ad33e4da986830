using LoKO.Bench.Serving;

namespace LoKO.Bench.Scale;

/// <summary>
/// The built server as a child process for `tenants` and `soak`: a fresh data directory, a generated admin key,
/// LibTorch threads as asked, warnings only in its log (per-tenant information lines would cost more than they tell here),
/// kept in <see cref="LogFile"/> beside the data directory: a failed request or a server that dies is explained there.
/// </summary>
static class ScaleServer
{
    static readonly TimeSpan ReadyLimit = TimeSpan.FromMinutes(3);

    public static async Task<(ServerProcess Server, string AdminKey)> StartAsync(string serverPath, string dataDirectory, int threads,
                                                                                 IEnumerable<string> settings, CancellationToken ct)
    {
        Directory.CreateDirectory(dataDirectory);
        var adminKey = "loko_bench_" + Guid.NewGuid().ToString("N");
        string[] all = [$"--LoKO:TorchThreads={threads}", "--Logging:LogLevel:Default=Warning", .. settings];
        var log = new StreamWriter(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(dataDirectory))!, LogFile)) { AutoFlush = true };
        var (server, _) = await ServerProcess.StartReadyAsync(serverPath, dataDirectory, adminKey, all, ReadyLimit, ct);
        server.Line += line =>
        {
            lock (log) log.WriteLine(line);
        };
        return (server, adminKey);
    }

    /// <summary>The server's output, in the parent of its data directory.</summary>
    public const string LogFile = "server.log";

    /// <summary>Copies the server's log from the work directory into the report's folder.</summary>
    public static void KeepLog(string workDirectory, string outDirectory)
    {
        var log = Path.Combine(workDirectory, LogFile);
        if (!File.Exists(log)) return;
        Directory.CreateDirectory(outDirectory);
        File.Copy(log, Path.Combine(outDirectory, LogFile), overwrite: true);
    }
}
