using LoKO.Contracts.Rest;

namespace LoKO.Server.Tenants;

/// <summary>The actor's side of the guard rails (<see cref="TenantFreeze"/>): freezing on its loop, resuming on request.</summary>
public sealed partial class TenantActor
{
    /// <summary>
    /// Loop: the monitor tripped. Returns to the state before the drop, drops the in-memory queue (every entry stays
    /// in the log, unmarked) and stops learning; appends go on, to the log only, under the same gate.
    /// </summary>
    async Task FreezeAsync(FreezeTrigger trigger)
    {
        var target = await _freeze.TargetAsync(trigger);
        await _appendGate.WaitAsync();
        try
        {
            await _s.Compute.Run(() => BuildState(target.Checkpoint, initial: target.Checkpoint is null));
            await _freeze.RecordFreezeAsync(trigger, target);
            _pending.Clear();
            SignalRoom();
            if (target.Checkpoint is { } checkpoint) RestoreCounters(checkpoint);
            else ResetCounters();
            Interlocked.Exchange(ref _checkpointVersion, target.Version);
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
            long after = Interlocked.Read(ref _lastApplied);
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
        return Describe();
    });

    /// <summary>The counters of the initial state (a freeze that returns to it).</summary>
    void ResetCounters()
    {
        Interlocked.Exchange(ref _lastApplied, 0);
        Interlocked.Exchange(ref _applied, 0);
        Interlocked.Exchange(ref _rejected, 0);
        Interlocked.Exchange(ref _correct, 0);
        _stepsSinceCheckpoint = 0;
        _warmupPending = false;
        _lastCheckpointUtc = DateTime.UtcNow;
    }

    /// <summary>A full log frees room when a checkpoint's compaction covers entries: a hint, the next timed checkpoint.</summary>
    TimeSpan LogRetryAfter()
    {
        var due = _lastCheckpointUtc + TimeSpan.FromSeconds(_s.Options.CheckpointEverySeconds) - DateTime.UtcNow;
        return due < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : due > TimeSpan.FromHours(1) ? TimeSpan.FromHours(1) : due;
    }
}
