using static TorchSharp.torch;

namespace LoKO.Engine.Optimizers;

/// <summary>
/// A step begun on a shared forward (<see cref="ISharedPassOptimizer.Begin"/>): the reverse pass it needs is
/// ⟨<see cref="Cotangent"/>, <see cref="Outputs"/>⟩ differentiated by θ; <see cref="Finish"/> takes that gradient and
/// completes the step. A step that needs no reverse pass (its prediction was already rejected) has neither.
/// </summary>
public sealed class SharedStep
{
    readonly Func<Tensor?, StepOutcome> _finish;

    public SharedStep(Tensor outputs, Tensor cotangent, Func<Tensor?, StepOutcome> finish)
    {
        if (!cotangent.shape.SequenceEqual(outputs.shape))
            throw new ArgumentException($"the cotangent [{string.Join(",", cotangent.shape)}] must be shaped like the outputs [{string.Join(",", outputs.shape)}]", nameof(cotangent));
        Outputs = outputs;
        Cotangent = cotangent;
        _finish = finish;
    }

    SharedStep(Func<Tensor?, StepOutcome> finish) => _finish = finish;

    /// <summary>A step already decided before any reverse pass.</summary>
    public static SharedStep Done(StepOutcome outcome) => new(_ => outcome);

    /// <summary>The head outputs the cotangent applies to (with autograd to θ); null when no reverse pass is needed.</summary>
    public Tensor? Outputs { get; }
    public Tensor? Cotangent { get; }

    /// <summary>Phase two: <paramref name="gradient"/> [n] = ∂⟨cotangent, outputs⟩/∂θ (null: every entry zero, or none needed).</summary>
    public StepOutcome Finish(Tensor? gradient) => _finish(gradient);

    /// <summary>The same step with <paramref name="then"/> applied to its outcome.</summary>
    public SharedStep Then(Func<StepOutcome, StepOutcome> then) =>
        Outputs is null ? new(g => then(_finish(g))) : new(Outputs, Cotangent!, g => then(_finish(g)));
}
