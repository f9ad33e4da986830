using static TorchSharp.torch;

namespace LoKO.Engine.Optimizers;

public enum StepStatus
{
    Applied,
    /// <summary>Not applied; θ and the optimizer state are exactly as before. See <see cref="StepOutcome.Reason"/>.</summary>
    Rejected,
    /// <summary>Held for now and applied later in order (the bounded-P₀ warm-up).</summary>
    Deferred,
}

/// <summary>
/// What one online step saw and did. <see cref="Predictions"/> were made BEFORE learning (prequential
/// evaluation): class probabilities [b, C] or regression outputs [b, d], detached, on the CPU.
/// Filter diagnostics are NaN for optimizers that have none.
/// </summary>
public sealed record StepOutcome(
    Tensor Predictions,
    double Loss,
    StepStatus Status,
    string? Reason = null,
    double InnovationNorm = double.NaN,
    double NormalisedInnovation = double.NaN,
    double NoiseTrace = double.NaN,
    double MeanCovariance = double.NaN,
    string? GuardEvent = null) : IDisposable
{
    public bool Applied => Status == StepStatus.Applied;

    public void Dispose() => Predictions.Dispose();
}
