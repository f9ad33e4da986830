namespace LoKO.Server.Tests;

/// <summary>The store scenarios on the embedded default, a SQLite file in the data directory.</summary>
public class SqliteStoreTests
{
    readonly StoreScenarios _scenarios = new([]);

    [Fact]
    public Task CompactionKeepsWhatReplayRollbackAndIdempotencyNeed() => _scenarios.CompactionKeepsWhatReplayRollbackAndIdempotencyNeedAsync();

    [Theory]
    [InlineData("adamw")]
    [InlineData("adagrad")]
    [InlineData("sgd")]
    public Task AGradientBaselineContinuesExactlyAcrossAGracefulRestart(string optimizer) =>
        _scenarios.AGradientBaselineContinuesExactlyAcrossAGracefulRestartAsync(optimizer);

    [Fact]
    public Task ConcurrentAppendsGetDistinctGaplessSequences() => _scenarios.ConcurrentAppendsGetDistinctGaplessSequencesAsync();

    [Fact]
    public Task APredictionKeptBeforeARestartTakesItsFeedbackAfterIt() =>
        new PendingPredictionScenarios([]).APredictionKeptBeforeARestartTakesItsFeedbackAfterItAsync();

    [Fact]
    public Task PredictionsExpireAndPastTheBoundTheOldestAreDropped() =>
        new PendingPredictionScenarios([]).PredictionsExpireAndPastTheBoundTheOldestAreDroppedAsync();

    [Fact]
    public Task AFreezeSurvivesARestartAndAResumeLearnsTheLog() => _scenarios.AFreezeSurvivesARestartAndAResumeLearnsTheLogAsync();
}
