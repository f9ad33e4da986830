using LoKO.Engine.Platform;
using Onnx;
using static TorchSharp.torch;
using DataType = Onnx.TensorProto.Types.DataType;

namespace LoKO.Engine.Onnx;

/// <summary>
/// Weights drawn from a seed in place of a graph's own, so that a graph file can travel without them (speed and
/// agreement between devices do not depend on the values). Replaced: every float initializer of two or more values;
/// scalars and one-value tensors (ε, √d, exponents) and all integer tensors (shapes, indices) are kept as they are.
/// The values follow the tensor's role, read from the node that consumes it, so activations keep their usual scale:
/// <list type="bullet">
/// <item>a MatMul/Gemm weight: normal, std 1/√fan-in (fan-in: the first dim of a MatMul weight [in, out], the second
/// of a transposed Gemm's [out, in]);</item>
/// <item>a Conv weight [out, in, kh, kw]: normal, std √(2 / (in·kh·kw)) (He, for the ReLUs that follow);</item>
/// <item>an embedding table (Gather's data): normal, std 0.02 (BERT's initialiser);</item>
/// <item>a per-channel multiplier (Mul, a BatchNormalization scale or variance): ones;</item>
/// <item>anything else of rank 1 (biases, shifts, BatchNormalization means): zeros; of higher rank: normal, std 1/√(last dim).</item>
/// </list>
/// One generator from the seed draws them in file order, so a graph and its stripped copy get the same values.
/// </summary>
public static class WeightlessInitializers
{
    /// <summary>Metadata key a stripped file carries; its value is the seed its weights are drawn from.</summary>
    public const string MetadataKey = "loko.weightless-seed";

    /// <summary>Whether this initializer is drawn from the seed (and left out of a stripped copy).</summary>
    public static bool Replaces(TensorProto t) =>
        (DataType)t.DataType is DataType.Float or DataType.Float16 or DataType.Bfloat16 or DataType.Double
        && t.Dims.Count > 0 && t.Dims.Aggregate(1L, (a, d) => a * d) > 1;

    /// <summary>The seed a stripped file names, if any.</summary>
    public static long? SeedOf(ModelProto model) =>
        model.MetadataProps.FirstOrDefault(p => p.Key == MetadataKey) is { } p && long.TryParse(p.Value, out var seed) ? seed : null;

    /// <summary>Draws every replaced initializer of <paramref name="graph"/>, in file order, by name.</summary>
    public static Dictionary<string, Tensor> Draw(GraphProto graph, long seed)
    {
        var consumers = new Dictionary<string, (NodeProto Node, int Input)>();
        foreach (var node in graph.Node)
            for (int i = 0; i < node.Input.Count; i++)
                consumers.TryAdd(node.Input[i], (node, i));
        var generator = new Generator((ulong)seed);
        var drawn = new Dictionary<string, Tensor>();
        using var scope = NewDisposeScope();
        foreach (var init in graph.Initializer)
        {
            if (!Replaces(init)) continue;
            long[] shape = [.. init.Dims];
            var values = Values(shape, consumers.TryGetValue(init.Name, out var c) ? c : null, generator)
                .to(TensorProtoConverter.ToScalarType(init.DataType, $"initializer '{init.Name}'"));
            drawn[init.Name] = values.DetachFromDisposeScope();
        }
        return drawn;
    }

    static Tensor Values(long[] shape, (NodeProto Node, int Input)? consumer, Generator generator)
    {
        Tensor Normal(double std) => randn(shape, generator: generator).Times(std);
        var (op, input) = consumer is { } c ? (c.Node.OpType, c.Input) : ("", -1);
        bool transB = consumer?.Node.Attribute.Any(a => a.Name == "transB" && a.I == 1) == true;
        return (op, input, shape.Length) switch
        {
            ("MatMul", 1, 2) => Normal(1 / Math.Sqrt(shape[0])),
            ("Gemm", 1, 2) => Normal(1 / Math.Sqrt(transB ? shape[1] : shape[0])),
            ("Conv", 1, >= 3) => Normal(Math.Sqrt(2.0 / shape[1..].Aggregate(1L, (a, d) => a * d))),
            ("Gather", 0, _) => Normal(0.02),
            ("BatchNormalization", 1 or 4, _) => ones(shape),
            ("BatchNormalization", _, _) => zeros(shape),
            ("Mul", _, 1) => ones(shape),
            (_, _, 1) => zeros(shape),
            _ => Normal(1 / Math.Sqrt(shape[^1])),
        };
    }

    /// <summary>
    /// A copy of <paramref name="model"/> without the values <see cref="Replaces"/> covers (dims and types kept),
    /// marked with the seed its loader draws them from.
    /// </summary>
    public static ModelProto Strip(ModelProto model, long seed)
    {
        var stripped = model.Clone();
        foreach (var init in stripped.Graph.Initializer)
        {
            if (!Replaces(init)) continue;
            init.RawData = Google.Protobuf.ByteString.Empty;
            init.FloatData.Clear();
            init.DoubleData.Clear();
            init.Int32Data.Clear();
        }
        var mark = stripped.MetadataProps.FirstOrDefault(p => p.Key == MetadataKey);
        if (mark is null) stripped.MetadataProps.Add(mark = new StringStringEntryProto { Key = MetadataKey });
        mark.Value = seed.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return stripped;
    }
}
