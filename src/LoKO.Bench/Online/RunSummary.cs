using LoKO.Engine.Evaluation;

namespace LoKO.Bench.Online;

/// <summary>One run's figures as reported (report.md, results.json, sweep.md).</summary>
public sealed record RunSummary
{
    public required string Optimizer { get; init; }
    public required string Label { get; init; }
    public double? LearningRate { get; init; }
    public required int Examples { get; init; }
    public required double OnlineAccuracy { get; init; }
    public double? HeldOutAccuracy { get; init; }
    public required double TailAccuracy { get; init; }
    public required double BestWindowedAccuracy { get; init; }
    public int? ExamplesTo80 { get; init; }
    public int? ExamplesTo70 { get; init; }
    public required double MeanStepMs { get; init; }
    public required int Rejected { get; init; }
    public required int Deferred { get; init; }
    public required int GuardEvents { get; init; }
    public required bool Collapsed { get; init; }
    public required double Seconds { get; init; }

    public static RunSummary From(OptimizerSpec spec, OnlineRun run, OnlineMetrics m) => new()
    {
        Optimizer = spec.Family,
        Label = spec.Label,
        LearningRate = spec.LearningRate,
        Examples = m.Examples,
        OnlineAccuracy = m.OnlineAccuracy,
        HeldOutAccuracy = m.HeldOutAccuracy,
        TailAccuracy = m.TailAccuracy,
        BestWindowedAccuracy = m.BestWindowedAccuracy,
        ExamplesTo80 = m.ExamplesToReach(0.8),
        ExamplesTo70 = m.ExamplesToReach(0.7),
        MeanStepMs = Math.Round(m.MeanStepMs, 3),
        Rejected = m.Rejected,
        Deferred = m.Deferred,
        GuardEvents = m.GuardEvents,
        Collapsed = m.Collapsed,
        Seconds = Math.Round(run.Seconds, 2),
    };
}
