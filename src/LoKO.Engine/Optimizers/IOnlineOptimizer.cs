using static TorchSharp.torch;

namespace LoKO.Engine.Optimizers;

/// <summary>
/// One learning step per arriving (mini-batch of) example(s), bound to one adapter's θ. The LoKO filter
/// and the gradient baselines implement it, so tenants and benchmarks switch by name.
/// </summary>
public interface IOnlineOptimizer : IDisposable
{
    string Name { get; }

    /// <summary>
    /// <paramref name="forward"/> runs the model on the step's inputs from the current θ (with autograd);
    /// the optimizer may call it more than once. <paramref name="targets"/>: class indices for
    /// classification, values for regression. A <see cref="StepStatus.Deferred"/> outcome means the
    /// step is held and <paramref name="forward"/> will run again later (bounded-P₀ warm-up): keep what
    /// it reads alive until a later step returns a status other than Deferred.
    /// </summary>
    StepOutcome Step(ForwardPass forward, Tensor targets);

    /// <summary>A step with a plain forward function: head outputs [b, C] from the current θ.</summary>
    StepOutcome Step(Func<Tensor> forward, Tensor targets) => Step(new ForwardPass(forward), targets);
}
