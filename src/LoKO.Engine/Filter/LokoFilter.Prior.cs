using LoKO.Engine.Optimizers;
using LoKO.Engine.Platform;
using TorchSharp;
using static TorchSharp.torch;

namespace LoKO.Engine.Filter;

/// <summary>
/// The paper's filter's prior P₀ (LOKO-ALGORITHM.md, "Initialising P"): a constant, an auto scale from the first
/// Jacobian, or the bounded warm-up that gathers squared gradients over the first N_w examples and then learns them.
/// </summary>
public sealed partial class LokoFilter
{
    readonly List<(ForwardPass Forward, Tensor Targets)> _warmup = [];

    void InitialiseIfNeeded(Tensor h, long classes)
    {
        if (State.R is null)
            State.R = torch.eye(classes, dtype: ScalarType.Float64, device: State.Theta.device).Times(_options.R0).DetachFromDisposeScope();
        if (State.P is not null) return;
        State.P = PriorCovariance(h).detach().DetachFromDisposeScope();
        RecordHeadPrior();
        // The prior itself is the first known-good state the guard can return to.
        _guard?.Snapshot();
    }

    /// <summary>p₀ by the constant or an auto strategy; a first Jacobian of zeros leaves the auto ones at <see cref="LokoOptions.P0Constant"/>.</summary>
    Tensor PriorCovariance(Tensor h)
    {
        var a2 = h.to(ScalarType.Float64).Squared().sum(dim: 0); // a_i² = ‖H_{·i}‖²
        double norm2 = a2.sum().item<double>();
        if (_options.P0 == InitialCovariance.Constant || norm2 == 0) return State.Theta.FilledLike(_options.P0Constant);
        double target = _options.AutoPriorWeight * h.shape[0] * _options.R0; // k·trace(R₀) = k·m·r₀
        switch (_options.P0)
        {
            case InitialCovariance.Auto:
                // trace(G) = Σ_i p_i·a_i² = c·‖H‖²_F  ⇒  c = k·m·r₀ / ‖H‖²_F
                return State.Theta.FilledLike(target / norm2);
            case InitialCovariance.AutoNormalised:
                // p_i = c / max(a_i, a_rms/10)  ⇒  trace(G) = c·Σ_i a_i² / max(a_i, a_rms/10) = k·m·r₀
                var denominator = a2.sqrt().AtLeast(0.1 * Math.Sqrt(norm2 / a2.shape[0]));
                double c = target / (a2 / denominator).sum().item<double>();
                return denominator.Dividing(c).to(State.Theta.dtype);
            default:
                throw new InvalidOperationException($"P₀ {_options.P0} is set by its warm-up, not at the first example");
        }
    }

    /// <summary>Bounded P₀: gather squared gradients on the first N_w examples, then learn them all, in order.</summary>
    StepOutcome Warmup(ForwardPass forward, Tensor targets, Tensor h, Tensor predictions, double loss)
    {
        var g2 = h.Squared().sum(dim: 0);
        if (State.WarmupSquaredGradients is null) State.WarmupSquaredGradients = g2.DetachFromDisposeScope();
        else State.WarmupSquaredGradients.PlusInPlace(g2);
        State.WarmupSeen++;
        _warmup.Add((forward, targets.detach().clone().DetachFromDisposeScope()));
        if (State.WarmupSeen < _options.WarmupExamples)
            return new StepOutcome(predictions, loss, StepStatus.Deferred, "bounded P₀ warm-up: learned once the warm-up completes");

        // The caller scored this example before the warm-up ended; report that prediction, with the replay's status.
        var last = CompleteWarmup();
        return last with { Predictions = predictions, Loss = loss };
    }

    /// <summary>Bounded P₀ from the squared gradients gathered so far, then the held examples learned in order; the last one's outcome.</summary>
    StepOutcome CompleteWarmup()
    {
        var sq = State.WarmupSquaredGradients!;
        double max = sq.max().Value();
        var scaled = max > 0 ? sq.Over(max) : zeros_like(sq);
        State.P = scaled.Times(_options.P0Max - _options.P0Min).Plus(_options.P0Min).detach().DetachFromDisposeScope();
        RecordHeadPrior();
        _guard?.Snapshot();
        sq.Dispose();
        State.WarmupSquaredGradients = null;
        var pending = _warmup.ToList();
        _warmup.Clear();
        State.Steps -= pending.Count; // each replayed example counts once, as it is stepped again
        StepOutcome? last = null;
        foreach (var (f, t) in pending)
        {
            last?.Dispose();
            last = Step(f, t);
            t.Dispose();
        }
        return last!;
    }

    /// <summary>The paper's p₀ over the head, per column (feature, then bias): what a class added later starts from.</summary>
    void RecordHeadPrior()
    {
        if (_head is null) return;
        State.HeadPrior?.Dispose();
        State.HeadPrior = StateGrowth.HeadColumnMeans(State.P!, _head).DetachFromDisposeScope();
    }
}
