using TorchSharp;
using static TorchSharp.torch;

namespace LoKO.Engine.Optimizers;

/// <summary>
/// Plain stochastic gradient descent as torch.optim.SGD computes it without momentum or weight decay (TorchSharp's
/// single operation, so θ is the same bits). With gradient g and rate γ:
/// <code>
///   θ ← θ − γ·g
/// </code>
/// It keeps no state (PyTorch's momentum_buffer exists only with momentum).
/// </summary>
sealed class SgdStep(double lr) : IGradientStep
{
    public void Apply(Tensor theta, Tensor gradient)
    {
        using var alpha = (-lr).ToScalar();
        theta.add_(gradient, alpha);
    }

    public Dictionary<string, Tensor> Export() => [];

    public void Import(IReadOnlyDictionary<string, Tensor> saved) { }

    public void Dispose() { }
}
