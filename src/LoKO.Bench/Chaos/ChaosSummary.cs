namespace LoKO.Bench.Chaos;

/// <summary>The run's figures in one place: kills by moment, restart times, resends, duplicates, replays, the worst θ difference.</summary>
public sealed record ChaosSummary(int Kills, IReadOnlyDictionary<string, int> Moments, double ReadyMeanSeconds, double ReadyMaxSeconds,
                                  double ActiveMeanSeconds, double ActiveMaxSeconds, int Resent, int Duplicates, long Replayed,
                                  double ThetaMaxAbsDiff, double ChaosSeconds, double ReferenceSeconds);
