using System.Globalization;
using LoKO.Contracts.Validation;
using LoKO.Server.Storage;
using Microsoft.EntityFrameworkCore;

namespace LoKO.Server.Tenants;

/// <summary>Rollback to a kept checkpoint: its state restored, the log after it marked rolled back and never learned.</summary>
public sealed partial class TenantActor
{
    /// <summary>
    /// Returns to checkpoint <paramref name="version"/>: its state is loaded, and every log entry after its
    /// sequence (applied or still queued) is marked rolled back and never learned. A checkpoint whose file cannot be
    /// used is rebuilt from an older one and the log between them (<see cref="CheckpointRestore"/>).
    /// </summary>
    public Task<TenantStatus> RollbackAsync(long version) => Enqueue(async () =>
    {
        CheckpointRecord checkpoint;
        await using (var db = await _s.Db.CreateDbContextAsync())
            checkpoint = await db.Checkpoints.AsNoTracking().SingleOrDefaultAsync(c => c.TenantId == TenantId && c.Version == version)
                         ?? throw await NoCheckpointAsync(db, version);

        var restored = await _restore.RestoreAsync(_model, version, CancellationToken.None);
        if (!restored.Exact)
        {
            await _s.Compute.Run(restored.Dispose);
            throw new FieldValidationException("version", $"checkpoint {version.ToString(CultureInfo.InvariantCulture)} of tenant '{TenantId}' cannot " +
                "be restored: neither its file nor an older one it descends from loads, and log compaction deleted the examples that would rebuild it");
        }
        await _appendGate.WaitAsync();
        try
        {
            try
            {
                await using var db = await _s.Db.CreateDbContextAsync();
                await using var tx = await db.Database.BeginTransactionAsync();
                await TenantEpochs.CheckAsync(db, TenantId, _epoch);
                await db.Examples.Where(x => x.TenantId == TenantId && x.Sequence > checkpoint.LastAppliedSequence && !x.RolledBack)
                    .ExecuteUpdateAsync(s => s.SetProperty(x => x.RolledBack, true).SetProperty(x => x.Applied, false).SetProperty(x => x.AppliedUtc, (DateTime?)null));
                await db.Tenants.Where(t => t.TenantId == TenantId).ExecuteUpdateAsync(s => s.SetProperty(t => t.CheckpointVersion, version));
                await TenantFreeze.DiscardAfterAsync(db, TenantId, version);
                await tx.CommitAsync();
            }
            catch (TenantFencedException e)
            {
                await _s.Compute.Run(restored.Dispose);
                throw Fenced(e);
            }
            catch (Exception e) when (StorageFaults.IsStorageFault(e))
            {
                await _s.Compute.Run(restored.Dispose);
                throw Unavailable("rollback", e, $"the rollback to checkpoint v{version.ToString(CultureInfo.InvariantCulture)} could not be recorded and did not happen");
            }
            catch
            {
                await _s.Compute.Run(restored.Dispose);
                throw;
            }
            await AdoptAsync(restored, version);
        }
        finally
        {
            _appendGate.Release();
        }
        await CatchUpAsync(restored, CancellationToken.None);
        _freeze.Monitor.Reset(checkpoint.LastAppliedSequence);
        // Labels are never removed: a state from before an addition grows to them now (nothing after it is learned again).
        await GrowDueAsync();
        _s.Logger.LogInformation("Tenant {Tenant}: rolled back to checkpoint v{Version} (sequence {Sequence})", TenantId, version, checkpoint.LastAppliedSequence);
        return Status;
    });

    async Task<FieldValidationException> NoCheckpointAsync(LoKODbContext db, long version)
    {
        var v = version.ToString(CultureInfo.InvariantCulture);
        if (version >= _nextCheckpointVersion) return new FieldValidationException("version", $"tenant '{TenantId}' has no checkpoint {v}");
        var kept = await db.Checkpoints.AsNoTracking().Where(c => c.TenantId == TenantId).OrderBy(c => c.Version).Select(c => c.Version).ToListAsync();
        return new FieldValidationException("version",
            $"checkpoint {v} of tenant '{TenantId}' was removed by log compaction (LoKO:RetainCheckpoints keeps the latest " +
            $"{_s.Options.RetainCheckpoints.ToString(CultureInfo.InvariantCulture)}); it can roll back to {string.Join(", ", kept)}");
    }

    /// <summary>
    /// A rollback or freeze: <paramref name="restored"/> replaces the tenant's state, the steps not yet learned are
    /// dropped (the log after <paramref name="version"/> no longer counts) and <paramref name="version"/> is current.
    /// </summary>
    async Task AdoptAsync(RestoredState restored, long version)
    {
        await InstallAsync(restored);
        _pending.Clear();
        SignalRoom();
        Interlocked.Exchange(ref _checkpointVersion, version);
    }
}
