using System.Runtime.InteropServices;
using Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace LoKO.Engine.Onnx;

/// <summary>ONNX TensorProto ⇄ TorchSharp tensor, for initializers and Constant nodes.</summary>
public static class TensorProtoConverter
{
    public static ScalarType ToScalarType(int onnxType, string what) => (TensorProto.Types.DataType)onnxType switch
    {
        TensorProto.Types.DataType.Float => ScalarType.Float32,
        TensorProto.Types.DataType.Double => ScalarType.Float64,
        TensorProto.Types.DataType.Float16 => ScalarType.Float16,
        TensorProto.Types.DataType.Bfloat16 => ScalarType.BFloat16,
        TensorProto.Types.DataType.Int64 => ScalarType.Int64,
        TensorProto.Types.DataType.Int32 => ScalarType.Int32,
        TensorProto.Types.DataType.Int16 => ScalarType.Int16,
        TensorProto.Types.DataType.Int8 => ScalarType.Int8,
        TensorProto.Types.DataType.Uint8 => ScalarType.Byte,
        TensorProto.Types.DataType.Bool => ScalarType.Bool,
        _ => throw new OnnxModelException($"{what}: ONNX element type {(TensorProto.Types.DataType)onnxType} is not supported"),
    };

    public static string OnnxTypeName(ScalarType t) => t switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.Float64 => "float64",
        ScalarType.Float16 => "float16",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Int64 => "int64",
        ScalarType.Int32 => "int32",
        ScalarType.Int16 => "int16",
        ScalarType.Int8 => "int8",
        ScalarType.Byte => "uint8",
        ScalarType.Bool => "bool",
        _ => t.ToString(),
    };

    /// <summary>Reads raw_data or the typed *_data field the exporter used (CNTK writes float_data).</summary>
    public static Tensor ToTensor(TensorProto proto, string what)
    {
        if (proto.DataLocation == TensorProto.Types.DataLocation.External || proto.ExternalData.Count > 0)
            throw new OnnxModelException($"{what}: external tensor data is not supported; save the model with weights inside the file");
        var type = ToScalarType(proto.DataType, what);
        long[] shape = [.. proto.Dims];
        long count = shape.Aggregate(1L, (a, d) => a * d);
        if (shape.Any(d => d < 0)) throw new OnnxModelException($"{what}: negative dimension in [{string.Join(",", shape)}]");

        Tensor flat;
        if (!proto.RawData.IsEmpty)
        {
            var bytes = proto.RawData.Span;
            long expected = count * ElementSize(type);
            if (bytes.Length != expected)
                throw new OnnxModelException($"{what}: raw_data holds {bytes.Length} bytes, shape [{string.Join(",", shape)}] of {OnnxTypeName(type)} needs {expected}");
            flat = FromBytes(bytes, type, count);
        }
        else
        {
            flat = type switch
            {
                ScalarType.Float32 => Checked(proto.FloatData.Count, count, what, () => tensor(proto.FloatData.ToArray())),
                ScalarType.Float64 => Checked(proto.DoubleData.Count, count, what, () => tensor(proto.DoubleData.ToArray())),
                ScalarType.Int64 => Checked(proto.Int64Data.Count, count, what, () => tensor(proto.Int64Data.ToArray())),
                ScalarType.Int32 or ScalarType.Int16 or ScalarType.Int8 or ScalarType.Byte or ScalarType.Bool =>
                    Checked(proto.Int32Data.Count, count, what, () => tensor(proto.Int32Data.ToArray()).to(type)),
                ScalarType.Float16 or ScalarType.BFloat16 =>
                    // 16-bit floats travel as their bit patterns in int32_data.
                    Checked(proto.Int32Data.Count, count, what, () => FromBytes(
                        MemoryMarshal.AsBytes(proto.Int32Data.Select(v => (ushort)v).ToArray().AsSpan()), type, count)),
                _ => throw new OnnxModelException($"{what}: no data for element type {OnnxTypeName(type)}"),
            };
        }
        using (flat) return flat.reshape(shape);
    }

    // A zero-element tensor (an empty axes list, a [2,0] weight) legitimately carries no data.
    static Tensor Checked(int have, long need, string what, Func<Tensor> make) =>
        have == need ? make() : throw new OnnxModelException($"{what}: holds {have} values, its shape needs {need}");

    static Tensor FromBytes(ReadOnlySpan<byte> bytes, ScalarType type, long count)
    {
        if (count == 0) return empty(0, dtype: type);
        var buffer = bytes.ToArray();
        var t = empty(count, dtype: type);
        // Little-endian raw bytes straight into the tensor's storage.
        t.bytes = buffer;
        return t;
    }

    static int ElementSize(ScalarType t) => t switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        _ => 1,
    };
}
