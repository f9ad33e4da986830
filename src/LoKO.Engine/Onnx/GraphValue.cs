using Onnx;
using static TorchSharp.torch;

namespace LoKO.Engine.Onnx;

/// <summary>A declared graph input or output: name, element type, and dims (null where symbolic).</summary>
public sealed record GraphValue(string Name, ScalarType ElementType, long?[]? Dims)
{
    internal static GraphValue From(ValueInfoProto v)
    {
        var tt = v.Type?.TensorType ?? throw new OnnxModelException($"graph value '{v.Name}': only tensor types are supported");
        var type = TensorProtoConverter.ToScalarType(tt.ElemType, $"graph value '{v.Name}'");
        long?[]? dims = tt.Shape is null ? null
            : [.. tt.Shape.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && d.DimValue > 0 ? d.DimValue : (long?)null)];
        return new GraphValue(v.Name, type, dims);
    }

    public override string ToString() =>
        $"{Name}: {TensorProtoConverter.OnnxTypeName(ElementType)}[{(Dims is null ? "?" : string.Join(",", Dims.Select(d => d?.ToString() ?? "?")))}]";
}
