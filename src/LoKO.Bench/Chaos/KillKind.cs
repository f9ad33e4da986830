namespace LoKO.Bench.Chaos;

/// <summary>What a kill aims at; how it waits for that moment is <see cref="Killer"/>'s.</summary>
public enum KillKind
{
    /// <summary>As the store's write-ahead log is written while examples are in flight: an append's commit, or just after it, before its acknowledgement.</summary>
    Append,
    /// <summary>After a random delay: the learner is stepping through the tenants' queues.</summary>
    Step,
    /// <summary>As a checkpoint file appears in the data directory: between the file and its row's commit.</summary>
    Checkpoint,
    /// <summary>As the server reports a checkpoint committed: the log compaction that follows it is running.</summary>
    Compaction,
    /// <summary>A random few milliseconds into a rollback request.</summary>
    Rollback,
}
