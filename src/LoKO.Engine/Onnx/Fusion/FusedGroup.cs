using LoKO.Engine.Onnx.Ops;
using static TorchSharp.torch;

namespace LoKO.Engine.Onnx.Fusion;

/// <summary>
/// Plan nodes that run as one op: <paramref name="Inputs"/> are the values the group reads from outside
/// (empty for an omitted optional one), <paramref name="Outputs"/> the values it hands on, in the order
/// <paramref name="Run"/> returns them. Nothing else reads the values between its nodes, so they need never exist.
/// </summary>
internal sealed record FusedGroup(string OpType, IReadOnlyList<OnnxNode> Nodes, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs,
                                  Func<OpContext, Tensor[]> Run)
{
    /// <summary>A group that hands on one value (a chain of nodes that one torch op stands in for).</summary>
    public FusedGroup(string opType, IReadOnlyList<OnnxNode> nodes, IReadOnlyList<string> inputs, string output, Func<OpContext, Tensor> run)
        : this(opType, nodes, inputs, [output], c => [run(c)]) { }

    /// <summary>Multiply-adds the group does per element of its first input, where it is a product; 0 otherwise.</summary>
    public long MultiplyAddsPerInputElement { get; init; }
}
