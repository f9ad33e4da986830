using LoKO.Contracts.Rest;
using LoKO.Server.Storage;

namespace LoKO.Server.Tenants;

/// <summary>The actor's side of the guard rails (<see cref="TenantFreeze"/>): freezing on its loop, resuming on request.</summary>
public sealed partial class TenantActor
{
    /// <summary>
    /// Loop: the monitor tripped. Returns to the state before the drop, drops the in-memory queue (every entry stays
    /// in the log, unmarked) and stops learning; appends go on, to the log only, under the same gate. A target
    /// checkpoint whose file cannot be used is rebuilt from an older one and the log (<see cref="CheckpointRestore"/>).
    /// The catch-up runs under the gate too (rare: a bad file), so the freeze shows only with the target's counters.
    /// </summary>
    async Task FreezeAsync(FreezeTrigger trigger)
    {
        var target = await _freeze.TargetAsync(trigger);
        var restored = await _restore.RestoreAsync(_model, target.Version, CancellationToken.None);
        await _appendGate.WaitAsync();
        try
        {
            TenantEventRecord record;
            try { record = await _freeze.RecordFreezeAsync(trigger, target); }
            catch
            {
                await _s.Compute.Run(restored.Dispose);
                throw;
            }
            await AdoptAsync(restored, target.Version);
            // The store says frozen from here on: so does memory, even if the catch-up fails.
            try { await CatchUpAsync(restored, CancellationToken.None); }
            finally { _freeze.Publish(record); }
        }
        finally
        {
            _appendGate.Release();
        }
    }

    /// <summary>
    /// Ends a freeze: queues every log entry after the state it returned to (learned before the freeze or accepted
    /// during it, never rolled back ones), in sequence order, then learning goes on.
    /// </summary>
    public Task<TenantResponse> ResumeAsync() => Enqueue(async () =>
    {
        if (!_freeze.Frozen) throw new TenantNotFrozenException(TenantId);
        await _appendGate.WaitAsync();
        try
        {
            long after = Counters.LastApplied;
            _pending.Clear();
            await QueueReplayAsync(after, CancellationToken.None);
            try { await _freeze.RecordResumeAsync(Interlocked.Read(ref _checkpointVersion), after, _pending.Count); }
            catch
            {
                _pending.Clear();
                throw;
            }
        }
        finally
        {
            _appendGate.Release();
        }
        await GrowDueAsync();
        return Describe();
    });

    /// <summary>A full log frees room when a checkpoint's compaction covers entries: a hint, the next timed checkpoint.</summary>
    TimeSpan LogRetryAfter()
    {
        var due = _lastCheckpointUtc + TimeSpan.FromSeconds(_s.Options.CheckpointEverySeconds) - DateTime.UtcNow;
        return due < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : due > TimeSpan.FromHours(1) ? TimeSpan.FromHours(1) : due;
    }
}
