using static TorchSharp.torch;

namespace LoKO.Engine.Optimizers;

/// <summary>
/// How an optimizer runs the model on the step's inputs. <see cref="Forward"/> computes the head outputs
/// [b, C] from the current θ (with autograd). <see cref="Copies"/>, when the model offers it, runs K copies
/// of a single example at once, copy k reading its parameters from row k of a [K, n] tensor: one reverse
/// pass through that batch then yields K Jacobian rows, which is how the LoKO filter avoids K sequential passes.
/// <see cref="Outputs"/> is C, the number of head outputs (needed with <see cref="Copies"/>).
/// <see cref="Features"/> and <see cref="FeatureCopies"/> are the same runs stopped before the head: the pooled
/// features [b, d] (or [K, d]) the head reads, for optimizers that apply the head themselves.
/// </summary>
public sealed record ForwardPass(Func<Tensor> Forward, Func<Tensor, Tensor>? Copies = null, int Outputs = 0)
{
    public Func<Tensor>? Features { get; init; }
    public Func<Tensor, Tensor>? FeatureCopies { get; init; }
}
