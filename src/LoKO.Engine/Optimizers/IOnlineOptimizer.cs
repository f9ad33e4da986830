using TorchSharp.Modules;
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

    /// <summary>
    /// The optimizer of <paramref name="theta"/>: this one's θ widened by <paramref name="growth"/>, the new head rows
    /// as the caller initialised them. Everything learned carries over exactly; each new entry's state starts as a new
    /// tenant's would (LoKO: p at the prior, R at R₀; the baselines: zero moments). This optimizer keeps its own state
    /// and θ (the caller disposes it), except that a pending bounded-P₀ warm-up is completed first.
    /// </summary>
    IOnlineOptimizer WithClasses(Parameter theta, ClassGrowth growth);
}
