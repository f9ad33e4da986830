using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Grpc.Core;
using LoKO.Contracts.V1;

namespace LoKO.Bench.Load;

/// <summary>
/// One measured run over already created and activated tenants: one Learn stream per tenant, each sending its
/// examples as fast as HTTP/2 flow control allows (or with at most <c>inFlight</c> unacknowledged) while a reader
/// takes the acknowledgements; meanwhile each tenant's <c>examplesApplied</c> is polled until it holds every example.
/// </summary>
static class LearnRun
{
    static readonly TimeSpan StallLimit = TimeSpan.FromMinutes(5);
    static readonly TimeSpan StatusGrace = TimeSpan.FromSeconds(5);
    static readonly TimeSpan MinPoll = TimeSpan.FromMilliseconds(20), MaxPoll = TimeSpan.FromSeconds(1);

    public static async Task<LearnResult> MeasureAsync(LoadClient client, IReadOnlyList<LoadTenant> tenants, IReadOnlyList<IReadOnlyList<LabeledText>> examples, int? inFlight)
    {
        int n = examples[0].Count;
        var batchesBefore = await client.BatchCountsAsync();
        var sent = tenants.Select(_ => new long[n]).ToArray();
        var acked = tenants.Select(_ => new long[n]).ToArray();
        var done = new long[tenants.Count];
        using var watchdog = new Watchdog(StallLimit);
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(watchdog.Token);
        Exception? cause = null;
        // The first failure is the cause; it stops every other stream and poll, whose cancellations are not reported.
        async Task Guarded(Func<CancellationToken, Task> work)
        {
            try { await work(abort.Token); }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref cause, e, null);
                await abort.CancelAsync();
                throw;
            }
        }
        var work = tenants.Select((t, i) => Guarded(ct => StreamAsync(client, t, examples[i], sent[i], acked[i], inFlight, watchdog, ct)))
            .Concat(tenants.Select((t, i) => Guarded(async ct => done[i] = await WaitForLearnedAsync(client, t, n, watchdog, ct))))
            .ToList();
        try
        {
            await Task.WhenAll(work);
        }
        catch (Exception) when (watchdog.Fired)
        {
            throw new LoadFailure($"no acknowledgement and no newly applied example for {watchdog.Limit.TotalMinutes:F0} min");
        }
        catch (Exception e)
        {
            ExceptionDispatchInfo.Throw(cause ?? e);
        }

        long first = sent.Min(s => s[0]);
        double wall = Stopwatch.GetElapsedTime(first, done.Max()).TotalSeconds;
        double ackWall = Stopwatch.GetElapsedTime(first, acked.Max(a => a[^1])).TotalSeconds;
        var latencies = sent.SelectMany((s, t) => s.Select((at, i) => Stopwatch.GetElapsedTime(at, acked[t][i]).TotalMilliseconds)).ToList();
        long rejected = 0;
        foreach (var t in tenants) rejected += (await client.GetTenantAsync(t, CancellationToken.None)).ExamplesRejected;
        int total = tenants.Count * n;
        return new LearnResult(tenants.Count, n, wall, total / wall, total / ackWall,
            Percentile.Of(latencies, 50), Percentile.Of(latencies, 99), rejected,
            await client.MeanStepMsAsync([.. tenants.Select(t => t.Id)]),
            BatchCounts.MeanBetween(batchesBefore, await client.BatchCountsAsync()));
    }

    /// <summary>Writes every example, stamping each send; the reader stamps each acknowledgement.</summary>
    static async Task StreamAsync(LoadClient client, LoadTenant tenant, IReadOnlyList<LabeledText> examples, long[] sent, long[] acked,
                                  int? inFlight, Watchdog watchdog, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var call = client.Learn(tenant, stop.Token);
        using var window = inFlight is { } k ? new SemaphoreSlim(k) : null;
        var reading = ReadAcksAsync(call.ResponseStream, tenant, examples.Count, acked, window, watchdog, stop);
        try
        {
            for (int i = 0; i < examples.Count; i++)
            {
                if (window is not null) await window.WaitAsync(stop.Token);
                sent[i] = Stopwatch.GetTimestamp();
                await call.RequestStream.WriteAsync(new Example { TenantId = tenant.Id, Input = new Input { Text = examples[i].Text }, Label = examples[i].Label }, stop.Token);
            }
            await call.RequestStream.CompleteAsync();
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            // A call that ended shows its status to the reader; a reader still blocked after a moment is released.
            if (await Task.WhenAny(reading, Task.Delay(StatusGrace, ct)) != reading) await stop.CancelAsync();
        }
        try { await reading; }
        catch (RpcException e) when (e.StatusCode != StatusCode.Cancelled) { throw client.Explain(e, $"Learn {tenant.Id}"); }
    }

    /// <summary>Any status but ACCEPTED, or a stream that ends early, fails the run (and releases the writer).</summary>
    static async Task ReadAcksAsync(IAsyncStreamReader<Ack> acks, LoadTenant tenant, int n, long[] acked, SemaphoreSlim? window,
                                    Watchdog watchdog, CancellationTokenSource stop)
    {
        int i = 0;
        try
        {
            await foreach (var ack in acks.ReadAllAsync(stop.Token))
            {
                acked[i] = Stopwatch.GetTimestamp();
                window?.Release();
                watchdog.Touch();
                if (ack.Status != AckStatus.Accepted)
                    throw new LoadFailure($"tenant {tenant.Id}: example {i + 1} was acknowledged {ack.Status} ({ack.Field}: {ack.Error})");
                i++;
            }
            if (i != n) throw new LoadFailure($"tenant {tenant.Id}: the Learn stream ended after {i} of {n} acknowledgements");
        }
        catch
        {
            await stop.CancelAsync();
            throw;
        }
    }

    /// <summary>
    /// When all <paramref name="n"/> examples were learned (applied, or rejected by the filter's guard). Polls sparsely
    /// while much is left and closely near the end, so that polling loads the server little.
    /// </summary>
    static async Task<long> WaitForLearnedAsync(LoadClient client, LoadTenant tenant, int n, Watchdog watchdog, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        long seen = 0;
        while (true)
        {
            var status = await client.GetTenantAsync(tenant, ct);
            long learned = status.ExamplesApplied + status.ExamplesRejected;
            if (learned >= n) return Stopwatch.GetTimestamp();
            if (learned > seen) watchdog.Touch();
            seen = learned;
            double perSecond = learned / Math.Max(Stopwatch.GetElapsedTime(started).TotalSeconds, 1e-3);
            var wait = perSecond > 0 ? TimeSpan.FromSeconds(0.5 * (n - learned) / perSecond) : TimeSpan.FromMilliseconds(250);
            await Task.Delay(wait < MinPoll ? MinPoll : wait > MaxPoll ? MaxPoll : wait, ct);
        }
    }
}
