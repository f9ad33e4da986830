using static TorchSharp.torch;

namespace LoKO.Engine.Onnx;

/// <summary>
/// Lets a caller add to a node's output without changing the shared graph: a tenant's LoRA adapter
/// computes op(x, W) + s·B(A(x)) this way, so W + BA is never materialised.
/// </summary>
public interface INodeHook
{
    bool Hooks(OnnxNode node);

    /// <summary>
    /// Part of the shape-cache key: a hook that changes shapes downstream (e.g. widens the batch) must
    /// name that change, or shape values cached for the plain graph would be reused.
    /// </summary>
    string ShapeKey => "";

    /// <summary>Returns the node's output to use downstream, given its inputs and its base output.</summary>
    Tensor After(OnnxNode node, IReadOnlyList<Tensor?> inputs, Tensor output);
}
