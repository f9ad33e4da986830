using System.Globalization;
using Google.Protobuf;
using LoKO.Engine.Onnx;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace LoKO.Engine.Presets;

/// <summary>
/// A BERT encoder generated as an ONNX graph without weights (they are drawn from a seed when it loads, see
/// <see cref="WeightlessInitializers"/>): the op patterns of the minilm-l6 export (opset 13: LayerNorm, attention and
/// GELU spelled out, each linear a MatMul then an Add whose bias has the Hugging Face name), so the executor's fusions
/// and the LoRA site names apply as they do there. <see cref="Base"/> is BERT-base's size, for speed measurements on
/// a model of the size published LoKO figures use; it knows no language.
/// </summary>
public sealed class SyntheticBert
{
    public required int Layers { get; init; }
    public required int Hidden { get; init; }
    public required int Heads { get; init; }
    public required int Intermediate { get; init; }
    public required int Vocab { get; init; }
    public int MaxPositions { get; init; } = 512;
    public long Seed { get; init; } = 1;

    /// <summary>12 layers, d = 768, 12 heads of 64, FFN 3072 (about 110 M parameters with a 30,522-token vocabulary).</summary>
    public static SyntheticBert Base(int vocab) => new() { Layers = 12, Hidden = 768, Heads = 12, Intermediate = 3072, Vocab = vocab };

    const long Opset = 13;
    readonly GraphProto _graph = new() { Name = "synthetic-bert" };
    int _values;

    /// <summary>The graph, weight-stripped: inputs input_ids, attention_mask, token_type_ids; output last_hidden_state [b, s, Hidden].</summary>
    public ModelProto Build()
    {
        if (Hidden % Heads != 0) throw new ArgumentException($"hidden {Hidden} is not a multiple of {Heads} heads");
        _graph.Node.Clear();
        _graph.Initializer.Clear();
        _values = 0;
        foreach (var input in (string[])["input_ids", "attention_mask", "token_type_ids"]) _graph.Input.Add(Value(input, DataType.Int64, "batch", "sequence"));
        _graph.Output.Add(Value("last_hidden_state", DataType.Float, "batch", "sequence", Hidden.ToString(CultureInfo.InvariantCulture)));

        // Embeddings: words + positions (a slice of position_ids as long as the input) + token types, then LayerNorm.
        var words = Op("Gather", [Weight("embeddings.word_embeddings.weight", Vocab, Hidden), "input_ids"]);
        var positionIds = Ints("embeddings.position_ids", [1, MaxPositions], [.. Enumerable.Range(0, MaxPositions).Select(i => (long)i)]);
        var length = Op("Unsqueeze", [Op("Gather", [Op("Shape", ["input_ids"]), Scalar(1L)]), Ints(null, [1], [0])]);
        var positions = Op("Gather", [Weight("embeddings.position_embeddings.weight", MaxPositions, Hidden),
            Op("Slice", [positionIds, Ints(null, [1], [0]), length, Ints(null, [1], [1])])]);
        var types = Op("Gather", [Weight("embeddings.token_type_embeddings.weight", 2, Hidden), "token_type_ids"]);
        var h = LayerNorm(Op("Add", [Op("Add", [words, types]), positions]), "embeddings.LayerNorm");

        // The additive mask: (1 − mask) · −10000 over [b, 1, 1, s].
        var mask = Op("Cast", [Op("Unsqueeze", ["attention_mask", Ints(null, [2], [1, 2])])], Attribute("to", (long)DataType.Float));
        var maskTerm = Op("Mul", [Op("Sub", [Scalar(1f), mask]), Scalar(-10000f)]);

        int headDim = Hidden / Heads;
        var split = Ints(null, [4], [0, 0, Heads, headDim]);
        var merge = Ints(null, [3], [0, 0, Hidden]);
        for (int l = 0; l < Layers; l++)
        {
            var p = $"encoder.layer.{l}";
            string Heads4(string x, long[] perm) => Op("Transpose", [Op("Reshape", [x, split])], Attribute("perm", perm));
            var q = Heads4(Linear(h, $"{p}.attention.self.query", Hidden, Hidden), [0, 2, 1, 3]);
            var kT = Heads4(Linear(h, $"{p}.attention.self.key", Hidden, Hidden), [0, 2, 3, 1]);
            var v = Heads4(Linear(h, $"{p}.attention.self.value", Hidden, Hidden), [0, 2, 1, 3]);
            var scores = Op("Add", [Op("Div", [Op("MatMul", [q, kT]), Scalar((float)Math.Sqrt(headDim))]), maskTerm]);
            var context = Op("MatMul", [Op("Softmax", [scores], Attribute("axis", -1L)), v]);
            var merged = Op("Reshape", [Op("Transpose", [context], Attribute("perm", [0L, 2, 1, 3])), merge]);
            var attention = LayerNorm(Op("Add", [Linear(merged, $"{p}.attention.output.dense", Hidden, Hidden), h]), $"{p}.attention.output.LayerNorm");
            var up = Linear(attention, $"{p}.intermediate.dense", Hidden, Intermediate);
            // Exact GELU as torch exports it: (x · (erf(x / √2) + 1)) · 0.5.
            var gelu = Op("Mul", [Op("Mul", [up, Op("Add", [Op("Erf", [Op("Div", [up, Scalar(1.4142135f)])]), Scalar(1f)])]), Scalar(0.5f)]);
            var down = Linear(gelu, $"{p}.output.dense", Intermediate, Hidden);
            h = LayerNorm(Op("Add", [down, attention]), $"{p}.output.LayerNorm", l == Layers - 1 ? "last_hidden_state" : null);
        }

        var model = new ModelProto { IrVersion = 7, ProducerName = "loko", Graph = _graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return WeightlessInitializers.Strip(model, Seed);
    }

    string Linear(string x, string name, int inputs, int outputs) =>
        Op("Add", [Op("MatMul", [x, Weight(name + ".weight", inputs, outputs)]), Weight(name + ".bias", outputs)]);

    /// <summary>As torch exports it before opset 17: ReduceMean, Sub, Pow 2, ReduceMean, + ε, Sqrt, Div, · γ, + β.</summary>
    string LayerNorm(string x, string name, string? output = null)
    {
        var lastAxis = Attribute("axes", [-1L]);
        var centred = Op("Sub", [x, Op("ReduceMean", [x], lastAxis)]);
        var variance = Op("ReduceMean", [Op("Pow", [centred, Scalar(2f)])], lastAxis);
        var normed = Op("Div", [centred, Op("Sqrt", [Op("Add", [variance, Scalar(1e-12f)])])]);
        return Op("Add", [Op("Mul", [normed, Weight(name + ".weight", Hidden)]), Weight(name + ".bias", Hidden)], null, output);
    }

    string Op(string type, IReadOnlyList<string> inputs, AttributeProto? attribute = null, string? output = null)
    {
        output ??= $"v{_values++}";
        var node = new NodeProto { OpType = type, Name = $"{type}_{_graph.Node.Count}" };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        if (attribute is not null) node.Attribute.Add(attribute);
        _graph.Node.Add(node);
        return output;
    }

    /// <summary>A float initializer without data: its values are drawn when the graph loads.</summary>
    string Weight(string name, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = (int)DataType.Float };
        t.Dims.AddRange(dims);
        _graph.Initializer.Add(t);
        return name;
    }

    string Ints(string? name, long[] dims, long[] values)
    {
        var t = new TensorProto { Name = name ?? $"c{_values++}", DataType = (int)DataType.Int64 };
        t.Dims.AddRange(dims);
        t.Int64Data.AddRange(values);
        _graph.Initializer.Add(t);
        return t.Name;
    }

    string Scalar(float value)
    {
        var t = new TensorProto { Name = $"c{_values++}", DataType = (int)DataType.Float };
        t.FloatData.Add(value);
        _graph.Initializer.Add(t);
        return t.Name;
    }

    string Scalar(long value)
    {
        var t = new TensorProto { Name = $"c{_values++}", DataType = (int)DataType.Int64 };
        t.Int64Data.Add(value);
        _graph.Initializer.Add(t);
        return t.Name;
    }

    static AttributeProto Attribute(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    static AttributeProto Attribute(string name, long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    static ValueInfoProto Value(string name, DataType type, params string[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(long.TryParse(d, out var n) ? new TensorShapeProto.Types.Dimension { DimValue = n } : new TensorShapeProto.Types.Dimension { DimParam = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
    }
}
