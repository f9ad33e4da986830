using LoKO.Bench.Serving;

namespace LoKO.Bench.Scale;

/// <summary>
/// The built server as a child process for `tenants` and `soak`: a fresh data directory, a generated admin key,
/// LibTorch threads as asked, warnings only in its log (per-tenant information lines would cost more than they tell here).
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
        var (server, _) = await ServerProcess.StartReadyAsync(serverPath, dataDirectory, adminKey, all, ReadyLimit, ct);
        return (server, adminKey);
    }
}
