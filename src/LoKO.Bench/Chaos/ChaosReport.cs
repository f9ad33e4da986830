namespace LoKO.Bench.Chaos;

/// <summary>What `loko-bench chaos` prints as its JSON line: the settings, the verdict, the summary, each tenant and each kill.</summary>
public sealed record ChaosReport(int Kills, int Tenants, int Examples, int Seed, int CheckpointEverySteps, int RetainCheckpoints,
                                 int MaxQueuedExamples, double Tolerance, bool Passed, ChaosSummary Summary,
                                 IReadOnlyList<TenantCheck> TenantChecks, IReadOnlyList<KillRecord> KillRecords);
