using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Google.Protobuf;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace LoKO.Server.Tests;

/// <summary>
/// Small ONNX files written by the tests, weights uniform random from a seed: a text encoder with its WordPiece
/// vocabulary, an image encoder, and a graph holding an op the engine does not support.
/// </summary>
public static partial class TinyOnnxModels
{
    public const int Hidden = 32;
    public const long Opset = 17;
    public const string UnsupportedOp = "Einsum";

    static readonly string[] SpecialTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

    /// <summary>
    /// input_ids [batch, tokens] → Gather(embeddings) → MatMul + Add (layer1) → Relu → MatMul + Add (layer2) = "hidden"
    /// [batch, tokens, 32] → ReduceMean over tokens → MatMul (classifier) = "logits". The vocabulary holds BERT's
    /// special tokens and every word of <paramref name="texts"/>. Sites: layer1, layer2 and classifier (after "hidden").
    /// </summary>
    public static (string Model, string Vocab) WriteText(string directory, int seed, IEnumerable<string> texts)
    {
        var words = texts.SelectMany(t => Word().Matches(t.ToLowerInvariant()).Select(m => m.Value)).Distinct().Order(StringComparer.Ordinal);
        string[] vocab = [.. SpecialTokens, .. words];
        var random = new Random(seed);
        var graph = new GraphProto { Name = "tiny-text" };
        graph.Input.Add(Value("input_ids", DataType.Int64, "batch", "tokens"));
        graph.Output.Add(Value("hidden", DataType.Float));
        graph.Output.Add(Value("logits", DataType.Float));
        graph.Initializer.Add(Floats("embeddings.weight", [vocab.Length, Hidden], random, 1.0));
        foreach (var layer in (string[])["layer1", "layer2"])
        {
            graph.Initializer.Add(Floats($"{layer}.weight", [Hidden, Hidden], random, Math.Sqrt(3.0 / Hidden)));
            graph.Initializer.Add(Floats($"{layer}.bias", [Hidden], random, 0.1));
        }
        graph.Initializer.Add(Floats("classifier.weight", [Hidden, 2], random, Math.Sqrt(3.0 / Hidden)));
        graph.Node.Add(Node("Gather", "embed", ["embeddings.weight", "input_ids"], ["embedded"]));
        graph.Node.Add(Node("MatMul", "layer1_matmul", ["embedded", "layer1.weight"], ["l1"]));
        graph.Node.Add(Node("Add", "layer1_add", ["l1", "layer1.bias"], ["l1b"]));
        graph.Node.Add(Node("Relu", "relu", ["l1b"], ["h1"]));
        graph.Node.Add(Node("MatMul", "layer2_matmul", ["h1", "layer2.weight"], ["l2"]));
        graph.Node.Add(Node("Add", "layer2_add", ["l2", "layer2.bias"], ["hidden"]));
        graph.Node.Add(Node("ReduceMean", "pool", ["hidden"], ["pooled"], Ints("axes", 1), Int("keepdims", 0)));
        graph.Node.Add(Node("MatMul", "classify", ["pooled", "classifier.weight"], ["logits"]));

        var model = Path.Combine(directory, "tiny-text.onnx");
        var vocabPath = Path.Combine(directory, "tiny-text-vocab.txt");
        Write(model, graph);
        File.WriteAllLines(vocabPath, vocab);
        return (model, vocabPath);
    }

    /// <summary>
    /// pixels [1, 3, 8, 8] (the batch pinned, as exports do) → Conv 3×3 (conv1, 4 filters) → Relu → Conv 3×3 (conv2, 8
    /// filters) → Relu = "features" [batch, 8, 8, 8] → GlobalAveragePool = "pooled".
    /// </summary>
    public static string WriteImage(string directory, int seed)
    {
        var random = new Random(seed);
        var graph = new GraphProto { Name = "tiny-image" };
        graph.Input.Add(Value("pixels", DataType.Float, 1L, 3L, 8L, 8L));
        graph.Output.Add(Value("pooled", DataType.Float));
        graph.Initializer.Add(Floats("conv1.weight", [4, 3, 3, 3], random, Math.Sqrt(3.0 / 27)));
        graph.Initializer.Add(Floats("conv1.bias", [4], random, 0.1));
        graph.Initializer.Add(Floats("conv2.weight", [8, 4, 3, 3], random, Math.Sqrt(3.0 / 36)));
        graph.Initializer.Add(Floats("conv2.bias", [8], random, 0.1));
        AttributeProto[] conv = [Ints("kernel_shape", 3, 3), Ints("pads", 1, 1, 1, 1)];
        graph.Node.Add(Node("Conv", "conv1", ["pixels", "conv1.weight", "conv1.bias"], ["c1"], conv));
        graph.Node.Add(Node("Relu", "relu1", ["c1"], ["r1"]));
        graph.Node.Add(Node("Conv", "conv2", ["r1", "conv2.weight", "conv2.bias"], ["c2"], conv));
        graph.Node.Add(Node("Relu", "relu2", ["c2"], ["features"]));
        graph.Node.Add(Node("GlobalAveragePool", "gap", ["features"], ["pooled"]));
        var path = Path.Combine(directory, "tiny-image.onnx");
        Write(path, graph);
        return path;
    }

    /// <summary>x [batch, 4] → MatMul (dense) → <see cref="UnsupportedOp"/> node "mix" → y.</summary>
    public static string WriteUnsupported(string directory)
    {
        var random = new Random(1);
        var graph = new GraphProto { Name = "odd" };
        graph.Input.Add(Value("x", DataType.Float, "batch", 4L));
        graph.Output.Add(Value("y", DataType.Float));
        graph.Initializer.Add(Floats("dense.weight", [4, 4], random, 0.5));
        graph.Node.Add(Node("MatMul", "dense", ["x", "dense.weight"], ["h"]));
        graph.Node.Add(Node(UnsupportedOp, "mix", ["h", "h"], ["y"], new AttributeProto { Name = "equation", Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8("bi,bi->bi") }));
        var path = Path.Combine(directory, "odd.onnx");
        Write(path, graph);
        return path;
    }

    static void Write(string path, GraphProto graph)
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "LoKO.Server.Tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        File.WriteAllBytes(path, model.ToByteArray());
    }

    /// <summary>A tensor value; each dim a fixed size (long) or a symbolic name (string); no dims: shape left open.</summary>
    static ValueInfoProto Value(string name, DataType type, params object[] dims)
    {
        var tensor = new TypeProto.Types.Tensor { ElemType = (int)type };
        if (dims.Length > 0)
        {
            tensor.Shape = new TensorShapeProto();
            foreach (var d in dims)
                tensor.Shape.Dim.Add(d is string symbol
                    ? new TensorShapeProto.Types.Dimension { DimParam = symbol }
                    : new TensorShapeProto.Types.Dimension { DimValue = (long)d });
        }
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensor } };
    }

    static TensorProto Floats(string name, long[] shape, Random random, double bound)
    {
        var values = new float[shape.Aggregate(1L, (a, b) => a * b)];
        for (int i = 0; i < values.Length; i++) values[i] = (float)((random.NextDouble() * 2 - 1) * bound);
        var proto = new TensorProto { Name = name, DataType = (int)DataType.Float, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan())) };
        proto.Dims.AddRange(shape);
        return proto;
    }

    static NodeProto Node(string op, string name, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        return node;
    }

    static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    [GeneratedRegex(@"[a-z0-9]+")]
    private static partial Regex Word();
}
