using LoKO.Engine.Optimizers;

namespace LoKO.Engine.Batching;

/// <summary>
/// What one step of a <see cref="TenantBatch"/> gave: its <see cref="Outcome"/> (the caller disposes it), or the
/// <see cref="Error"/> that stopped this step alone, as <see cref="IOnlineOptimizer.Step"/> would have thrown it.
/// <see cref="SharedPass"/> says whether the step ran in the batch's shared forward and reverse pass, or on its own.
/// </summary>
public sealed record TenantStepResult(StepOutcome? Outcome, Exception? Error, bool SharedPass);
