using Microsoft.EntityFrameworkCore;

namespace LoKO.Server.Storage;

/// <summary>What one compaction removed.</summary>
public sealed record CompactionResult(int CheckpointsDeleted, int ExamplesDeleted, long OldestKeptVersion, long CoveredSequence);

/// <summary>
/// Keeps what restart and rollback need: the tenant's latest <c>retain</c> checkpoints (the highest versions;
/// the newest, which a restart loads, is always among them) and the log entries after the oldest kept one's last
/// applied sequence. Rolling back to a kept version marks the entries after it, which are all still there.
/// Idempotency keys (<see cref="ExampleIdRecord"/>) and the noise history (one small row per checkpoint) are kept.
/// </summary>
public static class LogCompaction
{
    public static async Task<CompactionResult?> CompactAsync(IDbContextFactory<LoKODbContext> factory, CheckpointFiles files,
                                                             string tenantId, int retain, CancellationToken ct = default)
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

        int checkpoints, examples;
        await using (var tx = await db.Database.BeginTransactionAsync(ct))
        {
            checkpoints = await db.Checkpoints.Where(c => c.TenantId == tenantId && c.Version < oldest).ExecuteDeleteAsync(ct);
            examples = await db.Examples.Where(x => x.TenantId == tenantId && x.Sequence <= covered).ExecuteDeleteAsync(ct);
            await tx.CommitAsync(ct);
        }
        // Only after the commit: a checkpoint file never disappears while its row is still there.
        files.DeleteVersionsBefore(tenantId, oldest);
        return new CompactionResult(checkpoints, examples, oldest, covered);
    }
}
