namespace LoKO.Bench.Load;

/// <summary>Everything the `load` command measured; serialised as its JSON line.</summary>
sealed record LoadFigures(
    string Preset,
    IReadOnlyList<string> Labels,
    string Optimizer,
    int ExamplesPerTenant,
    int? InFlight,
    int MaxTokens,
    int Threads,
    IReadOnlyList<LearnResult> Runs,
    int PredictCalls,
    double PredictP50Ms,
    double PredictP99Ms,
    ColdStart Cold,
    double BareStepMs,
    double? ServicePerExampleMs,
    double? OverheadMs,
    double? OverheadRatio);
