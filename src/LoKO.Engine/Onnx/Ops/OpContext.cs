using static TorchSharp.torch;

namespace LoKO.Engine.Onnx.Ops;

/// <summary>What a kernel sees: its node, the model's opset, and the input tensors (null for omitted optionals).</summary>
public sealed class OpContext(OnnxNode node, long opset, Tensor?[] inputs)
{
    public OnnxNode Node { get; } = node;
    public long Opset { get; } = opset;
    public int InputCount => inputs.Length;

    public Tensor Input(int i) =>
        i < inputs.Length && inputs[i] is { } t ? t : throw Fail($"required input {i} is missing");

    public Tensor? OptionalInput(int i) => i < inputs.Length ? inputs[i] : null;

    /// <summary>Values of a small integer input such as a shape, axes or starts.</summary>
    public long[] InputInts(int i) => ToLongs(Input(i));

    public long[]? OptionalInputInts(int i) => OptionalInput(i) is { } t ? ToLongs(t) : null;

    public OnnxModelException Fail(string problem) => OnnxModelException.AtNode(Node, Opset, problem);

    static long[] ToLongs(Tensor t)
    {
        // Shapes and axes are almost always int64 on the CPU already: read them without a conversion.
        if (t.dtype == ScalarType.Int64 && t.device_type == TorchSharp.DeviceType.CPU && t.is_contiguous()) return t.data<long>().ToArray();
        using var cpu = t.device_type == TorchSharp.DeviceType.CPU ? t.to(ScalarType.Int64) : t.cpu().to(ScalarType.Int64);
        return cpu.contiguous().data<long>().ToArray();
    }
}
