using static TorchSharp.torch;

namespace LoKO.Engine.Optimizers;

/// <summary>
/// A gradient baseline's update rule with its state for one θ (the part of torch.optim a <see cref="GradientOptimizer"/>
/// needs), written here so that every number it hands LibTorch is held for the call.
/// </summary>
interface IGradientStep : IDisposable
{
    /// <summary>θ ← update(θ, g), the state advanced by one step; θ is changed in place (the caller holds no_grad).</summary>
    void Apply(Tensor theta, Tensor gradient);

    /// <summary>The state as named tensors under PyTorch's names (views of the live state, in the current dispose scope).</summary>
    Dictionary<string, Tensor> Export();

    /// <summary>Copies a state written by <see cref="Export"/> into this one, whose shapes it must match.</summary>
    void Import(IReadOnlyDictionary<string, Tensor> saved);
}
