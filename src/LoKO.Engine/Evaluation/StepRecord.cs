using LoKO.Engine.Optimizers;

namespace LoKO.Engine.Evaluation;

/// <summary>
/// What happened at one example of an online run. <see cref="Correct"/> and <see cref="Predicted"/> come from
/// the prediction made BEFORE the optimizer learned from the example (prequential scoring).
/// <see cref="Predicted"/> is −1 when the prediction was not finite.
/// </summary>
public sealed record StepRecord(
    int Index,
    int Label,
    int Predicted,
    double Loss,
    double StepMs,
    StepStatus Status,
    string? Reason = null,
    string? GuardEvent = null)
{
    public bool Correct => Predicted == Label;
}
