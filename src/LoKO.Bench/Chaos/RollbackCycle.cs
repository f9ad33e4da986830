namespace LoKO.Bench.Chaos;

/// <summary>
/// A rollback at a fixed place in a tenant's stream, so that an uninterrupted run does the same: once the first
/// <see cref="CheckpointAt"/> examples are learned the client asks for a checkpoint, streams on to
/// <see cref="RollbackAt"/>, then rolls back to that checkpoint — the examples in between are acknowledged, then
/// rolled back, never learned. Fewer examples in between than the checkpoint interval: no periodic checkpoint (and its
/// compaction) can fall between the two.
/// </summary>
public sealed record RollbackCycle(int CheckpointAt, int RollbackAt)
{
    public int RolledBack => RollbackAt - CheckpointAt;
}
