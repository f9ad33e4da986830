using LoKO.Engine.Onnx.Ops;
using static TorchSharp.torch;

namespace LoKO.Engine.Onnx.Fusion;

/// <summary>
/// Plan nodes that run as one op: <paramref name="Inputs"/> are the values the group reads from outside
/// (empty for an omitted optional one), <paramref name="Output"/> the one value it hands on. Nothing else
/// reads the values between its nodes, so they need never exist.
/// </summary>
internal sealed record FusedGroup(string OpType, IReadOnlyList<OnnxNode> Nodes, IReadOnlyList<string> Inputs, string Output, Func<OpContext, Tensor> Run);
