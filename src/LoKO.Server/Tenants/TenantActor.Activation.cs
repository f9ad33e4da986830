using LoKO.Server.Storage;
using LoKO.Server.Telemetry;
using Microsoft.EntityFrameworkCore;

namespace LoKO.Server.Tenants;

/// <summary>The actor's activation: its epoch, its latest checkpoint (or a fresh adapter) and the log after it, queued for replay.</summary>
public sealed partial class TenantActor
{
    /// <summary>
    /// Loads the tenant: its latest checkpoint (or a fresh adapter), then queues every later log entry for replay. A
    /// checkpoint that cannot be used gives way to an older one (<see cref="CheckpointRestore"/>), and the log replays
    /// from there. A metadata store that cannot be read is <see cref="StorageUnavailableException"/>.
    /// </summary>
    public static async Task<TenantActor> ActivateAsync(string tenantId, TenantServices s, Action onFenced, CancellationToken ct)
    {
        var clock = PhaseClock.ForDebug(s.Logger);
        TenantRecord record;
        long maxSequence, logEntries, epoch;
        try
        {
            await using var db = await s.Db.CreateDbContextAsync(ct);
            // First the epoch, then every read: a write of an older activation either committed before it, and is read
            // below, or fails its epoch check.
            epoch = await TenantEpochs.TakeAsync(db, tenantId, ct) ?? throw new TenantNotFoundException(tenantId);
            record = await db.Tenants.AsNoTracking().SingleOrDefaultAsync(t => t.TenantId == tenantId, ct)
                     ?? throw new TenantNotFoundException(tenantId);
            // Compaction may have deleted every log entry: checkpoints and idempotency keys remember sequences too.
            maxSequence = Math.Max(
                await db.Examples.Where(x => x.TenantId == tenantId).MaxAsync(x => (long?)x.Sequence, ct) ?? 0,
                Math.Max(
                    await db.Checkpoints.Where(c => c.TenantId == tenantId).MaxAsync(c => (long?)c.LastAppliedSequence, ct) ?? 0,
                    await db.ExampleIds.Where(x => x.TenantId == tenantId).MaxAsync(x => (long?)x.Sequence, ct) ?? 0));
            logEntries = await db.Examples.LongCountAsync(x => x.TenantId == tenantId, ct);
            clock?.Mark("metadata");
        }
        catch (Exception e) when (StorageFaults.IsStorageFault(e))
        {
            throw NotLoadable(tenantId, s, e);
        }

        var actor = new TenantActor(s, TenantSettings.FromRecord(record))
        {
            _nextSequence = maxSequence + 1,
            _checkpointVersion = record.CheckpointVersion,
            _nextCheckpointVersion = record.NextCheckpointVersion,
            _logEntries = logEntries,
            _epoch = epoch,
            _onFenced = onFenced,
        };
        try
        {
            actor._model = await s.Models.ForTenantAsync(tenantId, record.Preset, record.ModelSha256);
            clock?.Mark("model");
            try
            {
                var restored = await actor._restore.RestoreAsync(actor._model, record.CheckpointVersion, ct, clock);
                await actor.InstallAsync(restored);
                clock?.Mark("install");
                await actor._freeze.LoadAsync(record, ct);
                clock?.Mark("freeze");
                actor._freeze.Monitor.Reset(restored.FromSequence);
                // A frozen tenant learns nothing until it is resumed (the resume replays its log), except the steps
                // up to its checkpoint when that had to be rebuilt from an older one.
                if (actor._freeze.Frozen) await actor.CatchUpAsync(restored, ct);
                else await actor.QueueReplayAsync(restored.FromSequence, ct);
                // Additions the restored state lacks and that come before its replay: grown before the first command.
                await actor.GrowDueAsync();
                clock?.Mark("replay queued");
            }
            catch (Exception e) when (StorageFaults.IsStorageFault(e))
            {
                throw NotLoadable(tenantId, s, e);
            }
        }
        catch
        {
            if (actor._optimizer is not null) await s.Compute.Run(() => actor.Dispose());
            s.Metrics.Untrack(tenantId, actor._gauges);
            throw;
        }
        actor._loop = Task.Run(actor.RunAsync, CancellationToken.None);
        s.Logger.LogInformation("Activated tenant {Tenant}: epoch {Epoch}, checkpoint v{Version}, {Replay} log entries to replay{Frozen}",
            tenantId, epoch, record.CheckpointVersion, actor._pending.Count, actor._freeze.Frozen ? " (frozen)" : "");
        if (clock is not null) s.Logger.LogDebug("Tenant {Tenant}: activation took {Ms:F1} ms: {Phases}", tenantId, clock.TotalMs, clock);
        return actor;
    }

    static StorageUnavailableException NotLoadable(string tenantId, TenantServices s, Exception e)
    {
        s.Logger.LogWarning(e, "Tenant {Tenant}: cannot be loaded: the metadata store does not answer", tenantId);
        return new StorageUnavailableException($"tenant '{tenantId}' cannot be loaded now: the metadata store does not answer; retry later",
            TimeSpan.FromSeconds(s.Options.StorageRetrySeconds));
    }

    /// <summary>
    /// Makes <paramref name="restored"/> the tenant's state (disposing the one it replaces) with the counters of the
    /// checkpoint it was loaded from, or of the initial state.
    /// </summary>
    async Task InstallAsync(RestoredState restored)
    {
        await _s.Compute.Run(() =>
        {
            _optimizer?.Dispose();
            _adapter?.Dispose();
            _adapter = restored.Adapter;
            _optimizer = restored.Optimizer;
        });
        _checkpointSizeHint = (int)(restored.From?.SizeBytes ?? 0);
        if (restored.From is { } checkpoint) RestoreCounters(checkpoint);
        else ResetCounters();
    }

    /// <summary>
    /// After a restore that loaded an older checkpoint than its target: learns the logged steps between the two, so the
    /// state is the target's (replay is deterministic). The steps' own outcomes do not count for the guard rails.
    /// </summary>
    async Task CatchUpAsync(RestoredState restored, CancellationToken ct)
    {
        if (restored.Target is not { } target || restored.From?.Version == target.Version) return;
        foreach (var step in await ReadLogAsync(restored.FromSequence, target.LastAppliedSequence, ct))
        {
            await GrowBeforeAsync(step.Sequence);
            await _s.Compute.Run(() => Step(step));
        }
        await GrowToAsync(target.LabelCount ?? Settings.InitialLabelCount);
        _stepsSinceCheckpoint = 0;
        _freeze.Monitor.Reset(target.LastAppliedSequence);
    }

    void RestoreCounters(CheckpointRecord c)
    {
        Volatile.Write(ref _counters, new StepCounters(c.LastAppliedSequence, c.ExamplesApplied, c.ExamplesRejected, c.Correct));
        _stepsSinceCheckpoint = 0;
        _warmupPending = false;
        _lastCheckpointUtc = DateTime.UtcNow;
    }

    /// <summary>The counters of the initial state.</summary>
    void ResetCounters()
    {
        Volatile.Write(ref _counters, StepCounters.None);
        _stepsSinceCheckpoint = 0;
        _warmupPending = false;
        _lastCheckpointUtc = DateTime.UtcNow;
    }

    /// <summary>Compute thread.</summary>
    void Dispose()
    {
        _optimizer.Dispose();
        _adapter.Dispose();
    }
}
