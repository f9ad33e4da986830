using LoKO.Engine.Platform;
using TorchSharp;
using static TorchSharp.torch;

namespace LoKO.Engine.Optimizers;

/// <summary>
/// AdaGrad (Duchi, Hazan and Singer) as torch.optim.Adagrad computes it with PyTorch's defaults (no rate decay, no
/// weight decay, the sum starting at 0, ε = 1e-10); the same LibTorch operations as TorchSharp's Adagrad in the same
/// order, so θ and the state are the same bits. With gradient g and rate γ:
/// <code>
///   s ← s + g⊙g                                  sum
///   θ ← θ − γ · g ⊘ (√s + ε)
/// </code>
/// (PyTorch's decayed rate γ / (1 + (t − 1)·lr_decay) is γ itself at lr_decay 0; t is still counted and saved.)
/// </summary>
sealed class AdaGradStep : IGradientStep
{
    const double Epsilon = 1e-10;
    const string Sum = "sum";

    readonly double _lr;
    long _t;
    readonly Tensor _s;

    /// <summary>A zero sum shaped as <paramref name="theta"/>, at step 0.</summary>
    public AdaGradStep(Tensor theta, double lr)
    {
        _lr = lr;
        _s = zeros_like(theta).DetachFromDisposeScope();
    }

    public void Apply(Tensor theta, Tensor gradient)
    {
        _t += 1;
        using Scalar eps = Epsilon.ToScalar(), stepSize = (-_lr).ToScalar();
        _s.addcmul_(gradient, gradient, HeldScalars.One);
        using var std = _s.sqrt();
        std.add_(eps, HeldScalars.One);
        theta.addcdiv_(gradient, std, stepSize);
    }

    public Dictionary<string, Tensor> Export() => new()
    {
        [GradientStateTensors.Step] = GradientStateTensors.Counter(_t),
        [Sum] = _s.detach(),
    };

    public void Import(IReadOnlyDictionary<string, Tensor> saved)
    {
        _t = GradientStateTensors.CounterOf(saved);
        GradientStateTensors.CopyInto(_s, saved, Sum);
    }

    public void Dispose() => _s.Dispose();
}
