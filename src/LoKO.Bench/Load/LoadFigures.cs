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
    double? OverheadRatio)
{
    /// <summary>The device the server said it serves on (/readyz), and the one the bare step ran on.</summary>
    public string? ServerDevice { get; init; }
    public string BareDevice { get; init; } = "cpu";
    /// <summary>The server's cross-tenant batching setting (/readyz); null while it is off.</summary>
    public ServerBatching? ServerBatchTenants { get; init; }
}
