using System.Diagnostics;
using System.Text.RegularExpressions;

namespace LoKO.Bench.Chaos;

/// <summary>
/// Carries out a <see cref="KillPlan"/>: once the clients hold its number of acknowledgements it waits for its kind's
/// moment — a write to the store's write-ahead log while examples are in flight (an append's commit), a checkpoint
/// file appearing in the data directory, the server's "checkpoint vN at sequence S" line (the
/// compaction runs right after it), a rollback request in flight — at most <see cref="TriggerLimit"/>, then its delay,
/// then SIGKILL.
/// </summary>
sealed partial class Killer(ChaosServer server, IReadOnlyList<TenantWorkload> workloads, Stopwatch runClock)
{
    static readonly TimeSpan TriggerLimit = TimeSpan.FromSeconds(30);
    static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(2);

    [GeneratedRegex(@"checkpoint v\d+ at sequence \d+")]
    private static partial Regex CheckpointCommitted();

    int Acked => workloads.Sum(w => w.Acked);
    bool AllDone => workloads.All(w => w.Done);

    public async Task<KillMoment> KillAsync(KillPlan plan, CancellationToken ct)
    {
        await WaitAsync(() => Acked >= plan.AfterAcks || AllDone, Timeout.InfiniteTimeSpan, ct);
        string trigger = plan.Kind switch
        {
            KillKind.Append => await OnEventAsync(h => server.StoreWritten += h, h => server.StoreWritten -= h, _ => workloads.Any(w => w.InFlight > 0), "store write", ct),
            KillKind.Checkpoint => await OnEventAsync(h => server.CheckpointFile += h, h => server.CheckpointFile -= h, _ => true, "checkpoint file", ct),
            KillKind.Compaction => await OnEventAsync(h => server.Line += h, h => server.Line -= h, line => CheckpointCommitted().IsMatch(line), "checkpoint committed", ct),
            KillKind.Rollback when workloads.Any(w => w.RollbacksLeft > 0) =>
                await WaitAsync(() => workloads.Any(w => w.RollbackInFlight) || AllDone, TriggerLimit, ct) && !AllDone ? "rollback request" : "timeout",
            KillKind.Rollback => "no rollback left",
            _ => "acknowledgements",
        };
        var delay = trigger is "timeout" or "no rollback left" ? plan.FallbackDelay : plan.Delay;
        if (delay > TimeSpan.Zero) await Task.Delay(delay, ct);

        bool rollback = workloads.Any(w => w.RollbackInFlight), done = AllDone;
        int inFlight = workloads.Sum(w => w.InFlight);
        string moment = trigger switch
        {
            "checkpoint file" => "checkpoint",
            "checkpoint committed" => "compaction",
            "store write" => "append",
            _ when rollback => "rollback",
            _ when done => "idle",
            _ => "step",
        };
        var seen = new KillMoment(plan, moment, trigger, runClock.Elapsed.TotalSeconds, Acked, inFlight, rollback, workloads.Any(w => w.CheckpointInFlight));
        server.RequireAlive();
        await server.KillAsync();
        return seen;
    }

    /// <summary>The first event that <paramref name="matches"/>, within <see cref="TriggerLimit"/>; its name, else "timeout" (or "idle" once every client is done).</summary>
    async Task<string> OnEventAsync(Action<Action<string>> subscribe, Action<Action<string>> unsubscribe, Func<string, bool> matches, string name, CancellationToken ct)
    {
        var fired = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Handler(string value)
        {
            if (matches(value)) fired.TrySetResult();
        }
        subscribe(Handler);
        try
        {
            bool hit = await WaitAsync(() => fired.Task.IsCompleted || AllDone, TriggerLimit, ct, fired.Task);
            return hit && fired.Task.IsCompleted ? name : AllDone ? "idle" : "timeout";
        }
        finally { unsubscribe(Handler); }
    }

    /// <summary>Polls <paramref name="condition"/> (or wakes on <paramref name="wake"/>); false when <paramref name="limit"/> passed first.</summary>
    async Task<bool> WaitAsync(Func<bool> condition, TimeSpan limit, CancellationToken ct, Task? wake = null)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            server.RequireAlive();
            if (limit != Timeout.InfiniteTimeSpan && clock.Elapsed > limit) return false;
            var delay = Task.Delay(Poll, ct);
            await (wake is null ? delay : Task.WhenAny(delay, wake));
            ct.ThrowIfCancellationRequested();
        }
        return true;
    }
}
