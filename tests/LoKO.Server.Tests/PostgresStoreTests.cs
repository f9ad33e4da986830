namespace LoKO.Server.Tests;

/// <summary>The store scenarios on PostgreSQL, in a fresh database (see <see cref="PostgresServer"/>).</summary>
public class PostgresStoreTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    StoreScenarios Scenarios => new(database.ServerArgs);

    [PostgresFact]
    public Task CompactionKeepsWhatReplayRollbackAndIdempotencyNeed() => Scenarios.CompactionKeepsWhatReplayRollbackAndIdempotencyNeedAsync();

    [PostgresTheory]
    [InlineData("adamw")]
    [InlineData("adagrad")]
    [InlineData("sgd")]
    public Task AGradientBaselineContinuesExactlyAcrossAGracefulRestart(string optimizer) =>
        Scenarios.AGradientBaselineContinuesExactlyAcrossAGracefulRestartAsync(optimizer);

    [PostgresFact]
    public Task ConcurrentAppendsGetDistinctGaplessSequences() => Scenarios.ConcurrentAppendsGetDistinctGaplessSequencesAsync();

    [PostgresFact]
    public Task APredictionKeptBeforeARestartTakesItsFeedbackAfterIt() =>
        new PendingPredictionScenarios(database.ServerArgs).APredictionKeptBeforeARestartTakesItsFeedbackAfterItAsync();

    [PostgresFact]
    public Task PredictionsExpireAndPastTheBoundTheOldestAreDropped() =>
        new PendingPredictionScenarios(database.ServerArgs).PredictionsExpireAndPastTheBoundTheOldestAreDroppedAsync();

    [PostgresFact]
    public Task AFreezeSurvivesARestartAndAResumeLearnsTheLog() => Scenarios.AFreezeSurvivesARestartAndAResumeLearnsTheLogAsync();
}
