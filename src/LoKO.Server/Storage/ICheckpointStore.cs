namespace LoKO.Server.Storage;

/// <summary>Where a checkpoint blob was stored: the name its row records (<see cref="CheckpointRecord.Path"/>) and what to check it by.</summary>
public sealed record StoredCheckpoint(string Name, FileChecksum Checksum);

/// <summary>
/// Checkpoint blobs (safetensors: θ, p, R, counters) and an imported tenant's initial θ, wherever they are kept:
/// files in the data directory (<see cref="CheckpointFiles"/>, the embedded default) or rows of the metadata store
/// (<see cref="DatabaseCheckpoints"/>, which every node of a cluster reads). A blob is written before the row that
/// names it is committed, and deleted only after that row is.
/// </summary>
public interface ICheckpointStore
{
    /// <summary>
    /// Stores version <paramref name="version"/> of the tenant's state, written by the activation holding
    /// <paramref name="epoch"/>; a store shared by several nodes keeps two activations' blobs apart by it.
    /// </summary>
    Task<StoredCheckpoint> WriteAsync(string tenantId, long version, long epoch, byte[] bytes, CancellationToken ct = default);

    /// <summary>The blob <paramref name="checkpoint"/> names, checked by <see cref="CheckpointChecks.Verified"/>; <see cref="CheckpointFileException"/> when it cannot be used.</summary>
    Task<byte[]> ReadVerifiedAsync(CheckpointRecord checkpoint, CancellationToken ct = default);

    /// <summary>θ a tenant was created with (an imported adapter).</summary>
    Task WriteInitialAsync(string tenantId, byte[] bytes, CancellationToken ct = default);

    /// <summary>The imported θ, or null for a tenant that starts from its seed.</summary>
    Task<byte[]?> ReadInitialAsync(string tenantId, CancellationToken ct = default);

    /// <summary>Deletes the tenant's checkpoint blobs older than <paramref name="version"/> (and any a crash left unfinished).</summary>
    Task DeleteVersionsBeforeAsync(string tenantId, long version, CancellationToken ct = default);

    /// <summary>Deletes every blob of the tenant.</summary>
    Task DeleteTenantAsync(string tenantId, CancellationToken ct = default);
}
