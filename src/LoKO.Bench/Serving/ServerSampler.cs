using System.Diagnostics;

namespace LoKO.Bench.Serving;

/// <summary>
/// Reads the server's memory every <c>interval</c> on its own task (and on demand) until disposed: RSS from /proc, the
/// rest from <c>/metrics</c> (<see cref="ServerSample"/>). A reading the server does not answer in time keeps its RSS.
/// </summary>
sealed class ServerSampler : IAsyncDisposable
{
    readonly ServerProcess _server;
    readonly Func<CancellationToken, Task<PrometheusText?>> _metrics;
    readonly Stopwatch _clock;
    readonly List<ServerSample> _samples = [];
    readonly CancellationTokenSource _stop = new();
    readonly Task _loop;

    public ServerSampler(ServerProcess server, Func<CancellationToken, Task<PrometheusText?>> metrics, TimeSpan interval, Stopwatch clock)
    {
        (_server, _metrics, _clock) = (server, metrics, clock);
        _loop = LoopAsync(interval);
    }

    public IReadOnlyList<ServerSample> Samples
    {
        get { lock (_samples) return [.. _samples]; }
    }

    /// <summary>One reading now, kept with the others.</summary>
    public async Task<ServerSample> SampleAsync(CancellationToken ct = default)
    {
        var metrics = await _metrics(ct);
        var sample = ServerSample.Read(_clock.Elapsed.TotalSeconds, _server.ResidentBytes() ?? 0, metrics);
        lock (_samples) _samples.Add(sample);
        return sample;
    }

    async Task LoopAsync(TimeSpan interval)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
                if (!_server.HasExited) await SampleAsync(_stop.Token);
        }
        catch (OperationCanceledException) { }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
