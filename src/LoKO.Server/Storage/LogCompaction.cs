using Microsoft.EntityFrameworkCore;

namespace LoKO.Server.Storage;

/// <summary>What one compaction removed.</summary>
public sealed record CompactionResult(int CheckpointsDeleted, int ExamplesDeleted, long OldestKeptVersion, long CoveredSequence);

/// <summary>
/// Keeps what restart and rollback need: the tenant's latest <c>retain</c> checkpoints (the highest versions;
/// the newest, which a restart loads, is always among them) and the log entries after the oldest kept one's last
/// applied sequence. Rolling back to a kept version marks the entries after it, which are all still there.
/// Idempotency keys (<see cref="ExampleIdRecord"/>) and the noise history (one small row per checkpoint) are kept.
/// <para>
/// A freeze by the guard rails returns to the newest checkpoint before the drop it detected
/// (<see cref="Tenants.TenantFreeze"/>); <c>protectThrough</c>, the last sequence a drop can no longer reach, keeps
/// the newest checkpoint at or before it (and the log after it) whatever <c>retain</c> says. When no checkpoint lies
/// there the tenant would return to its initial state, so no log entry is deleted.
/// </para>
/// </summary>
public static class LogCompaction
{
    public static async Task<CompactionResult?> CompactAsync(IDbContextFactory<LoKODbContext> factory, ICheckpointStore store,
                                                             string tenantId, int retain, long? protectThrough = null, CancellationToken ct = default)
    {
        if (retain <= 0) return null;
        await using var db = await factory.CreateDbContextAsync(ct);
        var kept = await db.Checkpoints.AsNoTracking().Where(c => c.TenantId == tenantId)
            .OrderByDescending(c => c.Version).Take(retain)
            .Select(c => new { c.Version, c.LastAppliedSequence })
            .ToListAsync(ct);
        if (kept.Count == 0) return null;
        long oldest = kept.Min(c => c.Version);
        long covered = kept.Min(c => c.LastAppliedSequence);
        if (protectThrough is { } through)
        {
            var target = await db.Checkpoints.AsNoTracking()
                .Where(c => c.TenantId == tenantId && !c.Discarded && c.LastAppliedSequence <= through)
                .OrderByDescending(c => c.Version)
                .Select(c => new { c.Version, c.LastAppliedSequence })
                .FirstOrDefaultAsync(ct);
            if (target is null) covered = 0;
            else
            {
                oldest = Math.Min(oldest, target.Version);
                covered = Math.Min(covered, target.LastAppliedSequence);
            }
        }

        int checkpoints, examples;
        await using (var tx = await db.Database.BeginTransactionAsync(ct))
        {
            checkpoints = await db.Checkpoints.Where(c => c.TenantId == tenantId && c.Version < oldest).ExecuteDeleteAsync(ct);
            examples = covered <= 0 ? 0 : await db.Examples.Where(x => x.TenantId == tenantId && x.Sequence <= covered).ExecuteDeleteAsync(ct);
            await tx.CommitAsync(ct);
        }
        // Only after the commit: a checkpoint blob never disappears while its row is still there.
        await store.DeleteVersionsBeforeAsync(tenantId, oldest, ct);
        return new CompactionResult(checkpoints, examples, oldest, covered);
    }
}
