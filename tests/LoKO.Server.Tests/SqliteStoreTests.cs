namespace LoKO.Server.Tests;

/// <summary>The store scenarios on the embedded default, a SQLite file in the data directory.</summary>
public class SqliteStoreTests
{
    readonly StoreScenarios _scenarios = new([]);

    [Fact]
    public Task CompactionKeepsWhatReplayRollbackAndIdempotencyNeed() => _scenarios.CompactionKeepsWhatReplayRollbackAndIdempotencyNeedAsync();

    [Fact]
    public Task AdamWContinuesExactlyAcrossAGracefulRestart() => _scenarios.AdamWContinuesExactlyAcrossAGracefulRestartAsync();

    [Fact]
    public Task ConcurrentAppendsGetDistinctGaplessSequences() => _scenarios.ConcurrentAppendsGetDistinctGaplessSequencesAsync();
}
