using Microsoft.EntityFrameworkCore;

namespace LoKO.Server.Storage;

/// <summary>
/// Checkpoint blobs as rows of the metadata store (bytea on PostgreSQL, BLOB on SQLite): every node of a cluster
/// reads what any node wrote. Names carry the writer's epoch, so a stale activation's blob never replaces the one
/// the current activation's row names.
/// </summary>
public sealed class DatabaseCheckpoints(IDbContextFactory<LoKODbContext> factory) : ICheckpointStore
{
    public static string Name(string tenantId, long version, long epoch) => $"db:{tenantId}/v{version:D8}.e{epoch}";

    static string InitialName(string tenantId) => $"db:{tenantId}/initial";

    public async Task<StoredCheckpoint> WriteAsync(string tenantId, long version, long epoch, byte[] bytes, CancellationToken ct = default)
    {
        var name = Name(tenantId, version, epoch);
        await UpsertAsync(new CheckpointBlobRecord { Name = name, TenantId = tenantId, Version = version, Data = bytes }, ct);
        return new StoredCheckpoint(name, FileChecksum.Of(bytes));
    }

    public Task WriteInitialAsync(string tenantId, byte[] bytes, CancellationToken ct = default) =>
        UpsertAsync(new CheckpointBlobRecord { Name = InitialName(tenantId), TenantId = tenantId, Version = null, Data = bytes }, ct);

    async Task UpsertAsync(CheckpointBlobRecord blob, CancellationToken ct)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        // A retry of a write whose commit may have landed replaces it.
        await db.CheckpointBlobs.Where(b => b.Name == blob.Name).ExecuteDeleteAsync(ct);
        db.CheckpointBlobs.Add(blob);
        await db.SaveChangesAsync(ct);
    }

    public async Task<byte[]?> ReadInitialAsync(string tenantId, CancellationToken ct = default)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        var name = InitialName(tenantId);
        return await db.CheckpointBlobs.Where(b => b.Name == name).Select(b => b.Data).SingleOrDefaultAsync(ct);
    }

    public async Task<byte[]> ReadVerifiedAsync(CheckpointRecord checkpoint, CancellationToken ct = default)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        var bytes = await db.CheckpointBlobs.Where(b => b.Name == checkpoint.Path).Select(b => b.Data).SingleOrDefaultAsync(ct)
                    ?? throw new CheckpointFileException(CheckpointFault.Missing, $"its blob {checkpoint.Path} is missing");
        return CheckpointChecks.Verified(checkpoint, bytes);
    }

    public async Task DeleteVersionsBeforeAsync(string tenantId, long version, CancellationToken ct = default)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        await db.CheckpointBlobs.Where(b => b.TenantId == tenantId && b.Version != null && b.Version < version).ExecuteDeleteAsync(ct);
    }

    public async Task DeleteTenantAsync(string tenantId, CancellationToken ct = default)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        await db.CheckpointBlobs.Where(b => b.TenantId == tenantId).ExecuteDeleteAsync(ct);
    }
}
