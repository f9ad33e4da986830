using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace LoKO.Engine.Tests.Onnx;

/// <summary>Host-side values for a feed or an output: element type, shape and a flat array (float[], long[], int[] or bool[]).</summary>
sealed record HostTensor(string Name, DataType Type, long[] Shape, Array Data)
{
    public override string ToString() => $"{Name}: {Type}[{string.Join(",", Shape)}]";
}

/// <summary>How to fill a feed or a random initializer. Explicit values are repeated if there are too few.</summary>
sealed record Gen(Func<Random, int, Array> Make)
{
    public static Gen Uniform(double lo, double hi) =>
        new((r, n) => Enumerable.Range(0, n).Select(_ => (float)(lo + r.NextDouble() * (hi - lo))).ToArray());

    /// <summary>Away from zero in both signs: safe for Div and Reciprocal.</summary>
    public static Gen NonZero(double lo, double hi) =>
        new((r, n) => Enumerable.Range(0, n).Select(_ => (float)((r.Next(2) == 0 ? -1 : 1) * (lo + r.NextDouble() * (hi - lo)))).ToArray());

    public static Gen Ints(long lo, long hi) => new((r, n) => Enumerable.Range(0, n).Select(_ => r.NextInt64(lo, hi)).ToArray());
    public static Gen Int32s(int lo, int hi) => new((r, n) => Enumerable.Range(0, n).Select(_ => r.Next(lo, hi)).ToArray());
    public static Gen Bools { get; } = new((r, n) => Enumerable.Range(0, n).Select(_ => r.Next(2) == 1).ToArray());
    public static Gen Floats(params float[] v) => new((_, n) => Enumerable.Range(0, n).Select(i => v[i % v.Length]).ToArray());
    public static Gen Longs(params long[] v) => new((_, n) => Enumerable.Range(0, n).Select(i => v[i % v.Length]).ToArray());

    public static Gen Default(DataType type) => type switch
    {
        DataType.Float => Uniform(-2, 2),
        DataType.Int64 => Ints(-5, 6),
        DataType.Int32 => Int32s(-5, 6),
        DataType.Bool => Bools,
        _ => throw new ArgumentException($"no default generator for {type}"),
    };
}

/// <summary>
/// A small ONNX model built in code: declared inputs (with how to fill them), initializers, nodes and
/// typed outputs. Everything random is seeded, so a case builds the same model and feeds every time.
/// </summary>
sealed class TinyModel(long opset, int seed = 20240611)
{
    readonly GraphProto _graph = new() { Name = "tiny" };
    readonly List<(string Name, DataType Type, long[] Shape, Gen Gen)> _feeds = [];
    readonly Random _random = new(seed);

    public long Opset { get; } = opset;
    public IEnumerable<NodeProto> Nodes => _graph.Node;

    public TinyModel In(string name, DataType type, long[] shape, Gen? gen = null)
    {
        _graph.Input.Add(Value(name, type, shape));
        _feeds.Add((name, type, shape, gen ?? Gen.Default(type)));
        return this;
    }

    /// <summary>A graph output; its shape is left to inference, its element type must be right.</summary>
    public TinyModel Out(string name, DataType type)
    {
        _graph.Output.Add(Value(name, type, null));
        return this;
    }

    public TinyModel Op(string opType, string[] inputs, string[] outputs, params AttributeProto[] attributes) =>
        Op(opType, $"{opType}_{_graph.Node.Count}", inputs, outputs, attributes);

    public TinyModel Op(string opType, string name, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = name };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return this;
    }

    public TinyModel Init(TensorProto t)
    {
        _graph.Initializer.Add(t);
        return this;
    }

    /// <summary>A 1-D int64 initializer (axes, shapes, starts, split sizes).</summary>
    public TinyModel Init(string name, params long[] values) => Init(Tensors.Longs(name, [values.Length], values));

    /// <summary>A random initializer (weights), stored as raw_data as PyTorch's exporter writes it.</summary>
    public TinyModel Init(string name, DataType type, long[] shape, Gen? gen = null)
    {
        var data = (gen ?? Gen.Default(type)).Make(_random, Count(shape));
        return Init(type switch
        {
            DataType.Float => Tensors.RawFloats(name, shape, (float[])data),
            DataType.Int64 => Tensors.Longs(name, shape, (long[])data),
            _ => throw new ArgumentException($"no random initializer of {type}"),
        });
    }

    /// <summary>The feeds this model declares, filled by their generators from <paramref name="seed"/>.</summary>
    public HostTensor[] Feeds(int seed = 7)
    {
        var r = new Random(seed);
        return [.. _feeds.Select(f => new HostTensor(f.Name, f.Type, f.Shape, f.Gen.Make(r, Count(f.Shape))))];
    }

    public ModelProto Proto()
    {
        var model = new ModelProto
        {
            IrVersion = 10,
            ProducerName = "LoKO.Engine.Tests",
            Graph = _graph.Clone(),
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return model;
    }

    public byte[] Bytes() => Proto().ToByteArray();

    static int Count(long[] shape) => (int)shape.Aggregate(1L, (a, d) => a * d);

    public static ValueInfoProto Value(string name, DataType type, long[]? shape)
    {
        var tensorType = new TypeProto.Types.Tensor { ElemType = (int)type };
        if (shape is not null)
        {
            tensorType.Shape = new TensorShapeProto();
            foreach (var d in shape) tensorType.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        }
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensorType } };
    }
}

/// <summary>TensorProto builders for initializers and tensor attributes.</summary>
static class Tensors
{
    public static TensorProto Floats(string name, long[] shape, params float[] values)
    {
        var t = new TensorProto { Name = name, DataType = (int)DataType.Float };
        t.Dims.AddRange(shape);
        t.FloatData.AddRange(values);
        return t;
    }

    public static TensorProto RawFloats(string name, long[] shape, float[] values)
    {
        var t = new TensorProto { Name = name, DataType = (int)DataType.Float, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan())) };
        t.Dims.AddRange(shape);
        return t;
    }

    public static TensorProto Longs(string name, long[] shape, params long[] values)
    {
        var t = new TensorProto { Name = name, DataType = (int)DataType.Int64 };
        t.Dims.AddRange(shape);
        t.Int64Data.AddRange(values);
        return t;
    }
}

/// <summary>AttributeProto builders.</summary>
static class Attr
{
    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto String(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    public static AttributeProto Tensor(string name, TensorProto value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Tensor, T = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto Floats(string name, params float[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Floats };
        a.Floats.AddRange(values);
        return a;
    }
}
