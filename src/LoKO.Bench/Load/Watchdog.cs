using System.Diagnostics;

namespace LoKO.Bench.Load;

/// <summary>
/// Cancels a run that makes no progress (no acknowledgement, no newly applied example) for <see cref="Limit"/>,
/// so a stuck server ends the benchmark with a message instead of hanging it.
/// </summary>
sealed class Watchdog : IDisposable
{
    readonly CancellationTokenSource _cancel = new();
    long _last = Stopwatch.GetTimestamp();

    public Watchdog(TimeSpan limit)
    {
        Limit = limit;
        _ = WatchAsync();
    }

    public TimeSpan Limit { get; }
    public CancellationToken Token => _cancel.Token;
    public bool Fired { get; private set; }

    public void Touch() => Interlocked.Exchange(ref _last, Stopwatch.GetTimestamp());

    async Task WatchAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(_cancel.Token))
            {
                if (Stopwatch.GetElapsedTime(Interlocked.Read(ref _last)) <= Limit) continue;
                Fired = true;
                await _cancel.CancelAsync();
            }
        }
        catch (OperationCanceledException) { }
    }

    // Only cancelled, not disposed: the watch loop may still be reading the token.
    public void Dispose() => _cancel.Cancel();
}
