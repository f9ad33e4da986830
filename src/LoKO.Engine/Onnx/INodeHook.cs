using static TorchSharp.torch;

namespace LoKO.Engine.Onnx;

/// <summary>
/// Lets a caller add to a node's output without changing the shared graph: a tenant's LoRA adapter
/// computes op(x, W) + s·B(A(x)) this way, so W + BA is never materialised.
/// </summary>
public interface INodeHook
{
    bool Hooks(OnnxNode node);

    /// <summary>Returns the node's output to use downstream, given its inputs and its base output.</summary>
    Tensor After(OnnxNode node, IReadOnlyList<Tensor?> inputs, Tensor output);
}
