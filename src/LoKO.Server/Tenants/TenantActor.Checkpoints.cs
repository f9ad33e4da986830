using System.Globalization;
using LoKO.Contracts.Rest;
using LoKO.Engine.Checkpoints;
using LoKO.Server.Storage;
using LoKO.Server.Telemetry;
using Microsoft.EntityFrameworkCore;

namespace LoKO.Server.Tenants;

/// <summary>The actor's checkpoints: writing them (blob, then row, epoch-checked), and compaction after each.</summary>
public sealed partial class TenantActor
{
    static readonly TimeSpan MaxCheckpointRetry = TimeSpan.FromMinutes(5);

    // Checkpoints failed in a row, and when the loop tries again; learning goes on from memory and the log meanwhile.
    int _checkpointFailures;
    DateTime _checkpointRetryUtc;

    bool _checkpointing;

    // 1 once the resident-tenant LRU asked for a write-back (this tenant is next in line for eviction); taken by the loop.
    int _writeBackAsked;

    /// <summary>
    /// Next in line for eviction: once idle, the loop checkpoints what was learned since the last checkpoint, so the
    /// eviction has nothing left to write (the log keeps every acknowledged example either way).
    /// </summary>
    public void WriteBack()
    {
        Interlocked.Exchange(ref _writeBackAsked, 1);
        Wake();
    }

    /// <summary>Takes a write-back request: true once per request.</summary>
    bool TakeWriteBack() => Interlocked.Exchange(ref _writeBackAsked, 0) == 1;

    bool CheckpointRetryWaits => _checkpointFailures > 0 && DateTime.UtcNow < _checkpointRetryUtc;

    /// <summary>When the loop checkpoints next if there are new steps: on schedule, or after a failure when its back-off ends.</summary>
    DateTime NextCheckpointUtc(TimeSpan interval) => _checkpointFailures > 0 ? _checkpointRetryUtc : _lastCheckpointUtc + interval;

    /// <summary>Writes a checkpoint now (after the steps already taken; queued examples stay queued).</summary>
    public Task<CheckpointResponse> CheckpointAsync() => Enqueue(async () =>
        _warmupPending ? throw new InvalidOperationException("the bounded-P₀ warm-up is still gathering examples; checkpoint after it completes")
                       : await CheckpointCoreAsync());

    /// <summary>The loop's checkpoints: a failure is already logged and counted, and tried again after its back-off.</summary>
    async Task TryCheckpointAsync()
    {
        try { await CheckpointCoreAsync(); }
        catch (StorageUnavailableException) { }
    }

    /// <summary>
    /// The file (its SHA-256 and length go into the row), then in one transaction the row, the tenant's checkpoint
    /// version and the covered log entries marked applied. A store that refuses either is
    /// <see cref="StorageUnavailableException"/>: the tenant keeps its state in memory and its log, and the loop tries
    /// again after a back-off (<see cref="Hosting.LoKOOptions.StorageRetrySeconds"/>, doubling up to 5 minutes).
    /// </summary>
    async Task<CheckpointResponse> CheckpointCoreAsync()
    {
        Volatile.Write(ref _checkpointing, true);
        try { return await WriteCheckpointAsync(); }
        finally { Volatile.Write(ref _checkpointing, false); }
    }

    /// <summary>A checkpoint is being written: evicting the tenant now would wait for it (the eviction passes it over while it can).</summary>
    public bool Checkpointing => Volatile.Read(ref _checkpointing);

    async Task<CheckpointResponse> WriteCheckpointAsync()
    {
        var started = DateTime.UtcNow;
        var clock = PhaseClock.ForDebug(_s.Logger);
        long version = _nextCheckpointVersion;
        var counters = Counters;
        long lastApplied = counters.LastApplied;
        CheckpointRecord record;
        NoiseEstimate? noise;
        try
        {
            // On the compute threads, which every tenant's steps and predictions share, only a copy of the state at
            // this version (the loop takes no step until the checkpoint is done; the copy is its content either way).
            (noise, int labels, var snapshot) = await _s.Compute.Run(() =>
            {
                clock?.Mark("compute wait");
                return (NoiseEstimates.Of(_optimizer), _adapter.Layout.Outputs, TenantOptimizers.Snapshot(_optimizer));
            });
            clock?.Mark("snapshot");
            // Encoding it, the write and its fsync off them; the row below is committed only once the checkpoint is durable.
            var stored = await Task.Run(async () =>
            {
                byte[] bytes;
                using (snapshot) bytes = Encode(snapshot);
                clock?.Mark("encoded");
                return await _s.Checkpoints.WriteAsync(TenantId, version, _epoch, bytes);
            });
            clock?.Mark("written");
            record = new CheckpointRecord
            {
                TenantId = TenantId, Version = version, Path = stored.Name, LastAppliedSequence = lastApplied,
                ExamplesApplied = counters.Applied, ExamplesRejected = counters.Rejected,
                Correct = counters.Correct, CreatedUtc = started, Sha256 = stored.Checksum.Sha256, SizeBytes = stored.Checksum.Size, LabelCount = labels,
            };
            await using var db = await _s.Db.CreateDbContextAsync();
            await using var tx = await db.Database.BeginTransactionAsync();
            await TenantEpochs.CheckAsync(db, TenantId, _epoch);
            db.Checkpoints.Add(record);
            if (noise is { } n)
                db.NoiseHistory.Add(NoiseEstimates.Record(TenantId, version, n, started));
            await db.SaveChangesAsync();
            await db.Tenants.Where(t => t.TenantId == TenantId).ExecuteUpdateAsync(s => s
                .SetProperty(t => t.CheckpointVersion, version)
                .SetProperty(t => t.NextCheckpointVersion, version + 1));
            await db.Examples.Where(x => x.TenantId == TenantId && x.Sequence <= lastApplied && !x.Applied && !x.RolledBack)
                .ExecuteUpdateAsync(s => s.SetProperty(x => x.Applied, true).SetProperty(x => x.AppliedUtc, started));
            await tx.CommitAsync();
            clock?.Mark("committed");
        }
        catch (TenantFencedException e)
        {
            throw Fenced(e);
        }
        catch (Exception e) when (StorageFaults.IsStorageFault(e))
        {
            // The commit may have landed all the same: its version is never written again.
            _nextCheckpointVersion = version + 1;
            _checkpointFailures++;
            var wait = TimeSpan.FromSeconds(Math.Min(_s.Options.StorageRetrySeconds * Math.Pow(2, _checkpointFailures - 1), MaxCheckpointRetry.TotalSeconds));
            _checkpointRetryUtc = DateTime.UtcNow + wait;
            throw Unavailable("checkpoint", e, $"checkpoint v{version.ToString(CultureInfo.InvariantCulture)} could not be written (failure " +
                $"{_checkpointFailures.ToString(CultureInfo.InvariantCulture)} in a row); learning goes on from memory and the log, and the next " +
                $"checkpoint is tried in {wait.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s");
        }
        _checkpointFailures = 0;
        Interlocked.Exchange(ref _checkpointVersion, version);
        _nextCheckpointVersion = version + 1;
        _stepsSinceCheckpoint = 0;
        _lastCheckpointUtc = DateTime.UtcNow;
        _s.Metrics.CheckpointWritten(_gauges, _lastCheckpointUtc - started);
        _s.Logger.LogInformation("Tenant {Tenant}: checkpoint v{Version} at sequence {Sequence} in {Ms:F0} ms",
            TenantId, version, lastApplied, (DateTime.UtcNow - started).TotalMilliseconds);
        await CompactAsync();
        clock?.Mark("compacted");
        if (clock is not null) _s.Logger.LogDebug("Tenant {Tenant}: checkpoint v{Version}: {Phases}", TenantId, version, clock);
        return CheckpointResponses.From(record, noise?.Trace);
    }

    /// <summary>After a checkpoint: drops older checkpoints and covered log entries. A failure only postpones it to the next checkpoint.</summary>
    async Task CompactAsync()
    {
        try
        {
            var result = await LogCompaction.CompactAsync(_s.Db, _s.Checkpoints, TenantId, _s.Options.RetainCheckpoints, _freeze.Monitor.ProtectThrough);
            if (result is not null) Interlocked.Add(ref _logEntries, -result.ExamplesDeleted);
            if (result is { CheckpointsDeleted: > 0 } or { ExamplesDeleted: > 0 })
                _s.Logger.LogDebug("Tenant {Tenant}: compacted {Checkpoints} checkpoints and {Examples} log entries up to sequence {Sequence}",
                    TenantId, result.CheckpointsDeleted, result.ExamplesDeleted, result.CoveredSequence);
        }
        catch (Exception e)
        {
            _s.Logger.LogWarning(e, "Tenant {Tenant}: log compaction failed; it runs again after the next checkpoint", TenantId);
        }
    }

    // The last checkpoint's length: the next one is sized alike (its shapes change only when labels are added).
    int _checkpointSizeHint;

    /// <summary>
    /// Any thread. The stream starts at the last checkpoint's length, so a state of the same shapes is written
    /// without the growth copies (most of a 2.3 MiB state's serialisation time) and its buffer is the file.
    /// </summary>
    byte[] Encode(StateSnapshot snapshot)
    {
        using var stream = new MemoryStream(_checkpointSizeHint);
        snapshot.Write(stream);
        _checkpointSizeHint = (int)stream.Length;
        return stream.Length == stream.Capacity ? stream.GetBuffer() : stream.ToArray();
    }
}
