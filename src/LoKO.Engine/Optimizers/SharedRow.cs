using static TorchSharp.torch;

namespace LoKO.Engine.Optimizers;

/// <summary>
/// One tenant's row of a forward shared with other tenants: its pooled <see cref="Features"/> [1, d] (with autograd
/// to its θ), and <see cref="Outputs"/>, which applies its head to them ([1, C]).
/// </summary>
public sealed record SharedRow(Tensor Features, Func<Tensor> Outputs);
