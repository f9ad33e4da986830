namespace LoKO.Engine.Onnx;

/// <summary>An ONNX file that cannot be loaded or run: malformed, unsupported, or fed the wrong inputs.</summary>
public sealed class OnnxModelException(string message, Exception? inner = null) : Exception(message, inner)
{
    public static OnnxModelException AtNode(OnnxNode node, long opset, string problem) =>
        new($"node '{node.Name}' (op {node.OpType}, opset {opset}): {problem}");
}
