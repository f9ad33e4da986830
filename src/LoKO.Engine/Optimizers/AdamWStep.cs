using LoKO.Engine.Platform;
using TorchSharp;
using static TorchSharp.torch;

namespace LoKO.Engine.Optimizers;

/// <summary>
/// AdamW (Loshchilov and Hutter: Adam with decoupled weight decay) as torch.optim.AdamW computes it with amsgrad off
/// and PyTorch's β₁ = 0.9, β₂ = 0.999, ε = 1e-8; the same LibTorch operations as TorchSharp's AdamW in the same order,
/// so θ and the state are the same bits. With gradient g, rate γ, weight decay λ and step t:
/// <code>
///   θ ← θ·(1 − γλ)
///   m ← β₁·m + (1 − β₁)·g                        exp_avg
///   v ← β₂·v + (1 − β₂)·g⊙g                      exp_avg_sq
///   θ ← θ − γ/(1 − β₁ᵗ) · m ⊘ (√v / √(1 − β₂ᵗ) + ε)
/// </code>
/// </summary>
sealed class AdamWStep : IGradientStep
{
    const double Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8;
    const string ExpAvg = "exp_avg", ExpAvgSq = "exp_avg_sq";

    readonly double _lr, _weightDecay;
    long _t;
    readonly Tensor _m, _v;

    /// <summary>Zero moments shaped as <paramref name="theta"/>, at step 0.</summary>
    public AdamWStep(Tensor theta, double lr, double weightDecay)
    {
        _lr = lr;
        _weightDecay = weightDecay;
        _m = zeros_like(theta).DetachFromDisposeScope();
        _v = zeros_like(theta).DetachFromDisposeScope();
    }

    public void Apply(Tensor theta, Tensor gradient)
    {
        _t += 1;
        double bias1 = 1 - Math.Pow(Beta1, _t), bias2 = 1 - Math.Pow(Beta2, _t);
        using Scalar decay = (1 - _lr * _weightDecay).ToScalar(), beta1 = Beta1.ToScalar(), beta2 = Beta2.ToScalar(),
            gain1 = (1 - Beta1).ToScalar(), gain2 = (1 - Beta2).ToScalar(), eps = Epsilon.ToScalar(),
            rootBias2 = Math.Sqrt(bias2).ToScalar(), stepSize = (-(_lr / bias1)).ToScalar();
        theta.mul_(decay);
        _m.mul_(beta1).add_(gradient, gain1);
        _v.mul_(beta2).addcmul_(gradient, gradient, gain2);
        using var rootV = _v.sqrt();
        using var denominator = rootV.div(rootBias2);
        denominator.add_(eps, HeldScalars.One);
        theta.addcdiv_(_m, denominator, stepSize);
    }

    public Dictionary<string, Tensor> Export() => new()
    {
        [GradientStateTensors.Step] = GradientStateTensors.Counter(_t),
        [ExpAvg] = _m.detach(),
        [ExpAvgSq] = _v.detach(),
    };

    public void Import(IReadOnlyDictionary<string, Tensor> saved)
    {
        _t = GradientStateTensors.CounterOf(saved);
        GradientStateTensors.CopyInto(_m, saved, ExpAvg);
        GradientStateTensors.CopyInto(_v, saved, ExpAvgSq);
    }

    public void Dispose()
    {
        _m.Dispose();
        _v.Dispose();
    }
}
