using LoKO.Engine.Onnx;
using LoKO.Engine.Onnx.Ops;
using Onnx;
using TorchSharp;
using DataType = Onnx.TensorProto.Types.DataType;
using static LoKO.Engine.Tests.Onnx.OnnxRuntimeReference;

namespace LoKO.Engine.Tests.Onnx;

/// <summary>
/// Every operator the registry supports, in the variants exporters actually emit, run through
/// <see cref="GraphExecutor"/> and through ONNX Runtime on the same one- or few-node model and feeds.
/// Outputs must agree in element type, shape and values (floats within 1e-5 of the output's scale,
/// integers and booleans exactly).
/// </summary>
public class OpConformanceTests
{
    public static TheoryData<string> CaseNames => [.. OpCases.All.Keys];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void MatchesOnnxRuntime(string name)
    {
        var model = OpCases.All[name];
        var feeds = model.Feeds();
        var proto = model.Proto();
        string[] outputs = [.. proto.Graph.Output.Select(o => o.Name)];

        var expected = RunOnnxRuntime(model.Bytes(), feeds, outputs);

        using var graph = OnnxGraph.FromProto(proto, name);
        using var executor = new GraphExecutor(graph);
        // Twice: the second run takes the shape-caching path for nodes that depend only on shapes.
        for (int run = 0; run < 2; run++)
        {
            using var scope = torch.NewDisposeScope();
            var inputs = feeds.ToDictionary(f => f.Name, ToTorch);
            var actual = executor.Run(inputs);
            foreach (var (o, e) in outputs.Zip(expected))
                AssertClose(e, FromTorch(o, actual[o]), $"run {run + 1}, output '{o}'");
        }
    }

    [Fact]
    public void EverySupportedOpHasACase()
    {
        var covered = OpCases.All.Values.SelectMany(m => m.Nodes).Select(n => n.OpType).ToHashSet();
        var missing = OpRegistry.SupportedOps.Where(op => !covered.Contains(op)).ToList();
        Assert.True(missing.Count == 0, $"no conformance case for: {string.Join(", ", missing)}");
    }
}

/// <summary>The conformance cases, by readable name.</summary>
static class OpCases
{
    const DataType F = DataType.Float, L = DataType.Int64, B = DataType.Bool, I32 = DataType.Int32;

    public static readonly IReadOnlyDictionary<string, TinyModel> All = Build().ToDictionary(c => c.Name, c => c.Model);

    static TinyModel X(long opset, long[] shape, DataType type = F, Gen? gen = null) => new TinyModel(opset).In("x", type, shape, gen);

    static TinyModel Unary(string op, DataType type = F, Gen? gen = null, long opset = 13, DataType? outType = null, params AttributeProto[] attributes) =>
        X(opset, [2, 3, 4], type, gen).Op(op, ["x"], ["y"], attributes).Out("y", outType ?? type);

    static TinyModel Binary(string op, long[] a, long[] b, DataType type = F, DataType? outType = null,
                            Gen? genA = null, Gen? genB = null, DataType? typeB = null, long opset = 13) =>
        new TinyModel(opset).In("a", type, a, genA).In("b", typeB ?? type, b, genB)
            .Op(op, ["a", "b"], ["y"]).Out("y", outType ?? type);

    /// <summary>Slice of a [4,5,6] input, opset 10+ form: starts, ends and optional axes/steps as int64 initializers.</summary>
    static TinyModel Slice(long[] starts, long[] ends, long[]? axes = null, long[]? steps = null, long opset = 13)
    {
        var m = X(opset, [4, 5, 6]).Init("starts", starts).Init("ends", ends);
        if (axes is not null) m.Init("axes", axes);
        if (steps is not null) m.Init("steps", steps);
        List<string> inputs = ["x", "starts", "ends", axes is null ? "" : "axes", steps is null ? "" : "steps"];
        while (inputs[^1] == "") inputs.RemoveAt(inputs.Count - 1);
        return m.Op("Slice", [.. inputs], ["y"]).Out("y", F);
    }

    static TinyModel Conv(long[] x, long[] w, bool bias, params AttributeProto[] attributes)
    {
        var m = X(13, x).Init("w", F, w, Gen.Uniform(-1, 1));
        if (bias) m.Init("b", F, [w[0]]);
        return m.Op("Conv", bias ? ["x", "w", "b"] : ["x", "w"], ["y"], attributes).Out("y", F);
    }

    static TinyModel Pool(string op, long[] x, params AttributeProto[] attributes) =>
        X(op == "MaxPool" ? 12 : 11, x).Op(op, ["x"], ["y"], attributes).Out("y", F);

    static TinyModel Reduce(string op, long opset, long[]? axes, bool axesAsInput, long keepdims, DataType type = F)
    {
        var m = X(opset, [2, 3, 4], type);
        var attributes = new List<AttributeProto> { Attr.Int("keepdims", keepdims) };
        string[] inputs = ["x"];
        if (axes is not null && axesAsInput) { m.Init("axes", axes); inputs = ["x", "axes"]; }
        if (axes is not null && !axesAsInput) attributes.Add(Attr.Ints("axes", axes));
        return m.Op(op, inputs, ["y"], [.. attributes]).Out("y", type);
    }

    static IEnumerable<(string Name, TinyModel Model)> Build()
    {
        // ---- Element-wise binary ops: numpy broadcasting ----
        yield return ("Add: same shape", Binary("Add", [2, 3], [2, 3]));
        yield return ("Add: broadcast [2,3,4] + [4]", Binary("Add", [2, 3, 4], [4]));
        yield return ("Add: int64 broadcast [2,1] + [3]", Binary("Add", [2, 1], [3], L));
        yield return ("Sub: broadcast [2,1,4] - [3,1]", Binary("Sub", [2, 1, 4], [3, 1]));
        yield return ("Sub: int64 scalar - [2,3]", Binary("Sub", [], [2, 3], L));
        yield return ("Mul: [2,3] * scalar", Binary("Mul", [2, 3], []));
        yield return ("Mul: broadcast [1,3,1] * [2,1,4]", Binary("Mul", [1, 3, 1], [2, 1, 4]));
        yield return ("Div: float broadcast [3,4] / [3,1]", Binary("Div", [3, 4], [3, 1], genB: Gen.NonZero(0.5, 2)));
        yield return ("Div: int64 truncates toward zero", Binary("Div", [8], [8], L,
            genA: Gen.Longs(-7, 7, -7, 7, 5, -5, 0, -1), genB: Gen.Longs(2, 2, -2, -2, 3, 3, 4, 3)));
        yield return ("Div: int64 broadcast [3,4] / [4]", Binary("Div", [3, 4], [4], L, genA: Gen.Ints(-50, 51), genB: Gen.Longs(3, -4, 7, -2)));
        yield return ("Pow: float ^ float", Binary("Pow", [2, 3], [2, 3], genA: Gen.Uniform(0.1, 3), genB: Gen.Uniform(-2, 2)));
        yield return ("Pow: float ^ int64 broadcast", Binary("Pow", [2, 3], [3], genA: Gen.Uniform(-2, 2), genB: Gen.Longs(2, 3, 0), typeB: L));
        yield return ("Pow: float ^ scalar 2", Binary("Pow", [2, 3, 4], [], genB: Gen.Floats(2)));
        yield return ("Equal: int64 broadcast", Binary("Equal", [3, 4], [4], L, B, Gen.Ints(0, 3), Gen.Ints(0, 3)));
        yield return ("Equal: bool", Binary("Equal", [2, 3], [2, 3], B, B));
        yield return ("Less: float broadcast [2,3,4] < [3,1]", Binary("Less", [2, 3, 4], [3, 1], outType: B));
        yield return ("Less: int64", Binary("Less", [2, 3], [2, 3], L, B));
        yield return ("Greater: float broadcast [4] > [2,3,1]", Binary("Greater", [4], [2, 3, 1], outType: B));
        yield return ("Greater: int64 scalar", Binary("Greater", [2, 3], [], L, B));

        // ---- Element-wise unary ops ----
        foreach (var (op, gen) in new (string, Gen?)[]
                 {
                     ("Sqrt", Gen.Uniform(0.01, 4)), ("Erf", null), ("Tanh", null), ("Relu", null),
                     ("Sigmoid", Gen.Uniform(-6, 6)), ("Neg", null), ("Exp", null), ("Log", Gen.Uniform(0.01, 5)),
                     ("Abs", null), ("Reciprocal", Gen.NonZero(0.1, 3)), ("Identity", null),
                 })
            yield return ($"{op}: float [2,3,4]", Unary(op, gen: gen));
        yield return ("Neg: int64", Unary("Neg", L));
        yield return ("Abs: int64", Unary("Abs", L));
        yield return ("Identity: int64", Unary("Identity", L));
        yield return ("Not: bool", Unary("Not", B));
        yield return ("Gelu opset 20: approximate none", Unary("Gelu", gen: Gen.Uniform(-4, 4), opset: 20));
        yield return ("Gelu opset 20: approximate tanh", Unary("Gelu", gen: Gen.Uniform(-4, 4), opset: 20,
            attributes: Attr.String("approximate", "tanh")));

        // ---- Cast ----
        yield return ("Cast: float to int64 truncates", Unary("Cast", gen: Gen.Uniform(-10, 10), outType: L,
            attributes: Attr.Int("to", (long)DataType.Int64)));
        yield return ("Cast: int64 to float", Unary("Cast", L, Gen.Ints(-1000, 1000), outType: F,
            attributes: Attr.Int("to", (long)DataType.Float)));
        yield return ("Cast: int64 to int32", Unary("Cast", L, outType: I32, attributes: Attr.Int("to", (long)DataType.Int32)));
        yield return ("Cast: float to bool", Unary("Cast", gen: Gen.Floats(0, 1.5f, -0.25f, 0, 3), outType: B,
            attributes: Attr.Int("to", (long)DataType.Bool)));
        yield return ("Cast: bool to float", Unary("Cast", B, outType: F, attributes: Attr.Int("to", (long)DataType.Float)));

        // ---- Where, Clip, Dropout ----
        yield return ("Where: broadcast cond [2,1,4], x [3,1], y scalar",
            new TinyModel(13).In("c", B, [2, 1, 4]).In("x", F, [3, 1]).In("y", F, [])
                .Op("Where", ["c", "x", "y"], ["z"]).Out("z", F));
        yield return ("Where: int64 same shape",
            new TinyModel(13).In("c", B, [2, 3]).In("x", L, [2, 3]).In("y", L, [2, 3])
                .Op("Where", ["c", "x", "y"], ["z"]).Out("z", L));
        yield return ("Clip opset 11: min and max inputs",
            X(11, [2, 3, 4]).Init(Tensors.Floats("lo", [], -0.5f)).Init(Tensors.Floats("hi", [], 0.75f))
                .Op("Clip", ["x", "lo", "hi"], ["y"]).Out("y", F));
        yield return ("Clip opset 11: max only (min omitted)",
            X(11, [2, 3, 4]).Init(Tensors.Floats("hi", [], 0.25f)).Op("Clip", ["x", "", "hi"], ["y"]).Out("y", F));
        yield return ("Clip opset 13: min only",
            X(13, [2, 3, 4]).Init(Tensors.Floats("lo", [], -1f)).Op("Clip", ["x", "lo"], ["y"]).Out("y", F));
        yield return ("Clip opset 13: no bounds", X(13, [2, 3, 4]).Op("Clip", ["x"], ["y"]).Out("y", F));
        yield return ("Clip opset 13: int64",
            X(13, [2, 3, 4], L).Init(Tensors.Longs("lo", [], -2)).Init(Tensors.Longs("hi", [], 3))
                .Op("Clip", ["x", "lo", "hi"], ["y"]).Out("y", L));
        yield return ("Clip opset 10: min/max attributes",
            X(10, [2, 3, 4]).Op("Clip", ["x"], ["y"], Attr.Float("min", -0.3f), Attr.Float("max", 0.6f)).Out("y", F));
        yield return ("Dropout opset 13: inference with mask output",
            X(13, [2, 3, 4]).Op("Dropout", ["x"], ["y", "mask"]).Out("y", F).Out("mask", B));
        yield return ("Dropout opset 13: ratio input, no mask",
            X(13, [2, 3, 4]).Init(Tensors.Floats("ratio", [], 0.3f)).Op("Dropout", ["x", "ratio"], ["y"]).Out("y", F));

        // ---- Shape ----
        yield return ("Shape: rank 4", X(13, [2, 3, 4, 5]).Op("Shape", ["x"], ["y"]).Out("y", L));
        yield return ("Shape opset 15: start 1", X(15, [2, 3, 4, 5]).Op("Shape", ["x"], ["y"], Attr.Int("start", 1)).Out("y", L));
        yield return ("Shape opset 15: start 1, end -1",
            X(15, [2, 3, 4, 5]).Op("Shape", ["x"], ["y"], Attr.Int("start", 1), Attr.Int("end", -1)).Out("y", L));
        yield return ("Shape opset 15: start -2", X(15, [2, 3, 4, 5]).Op("Shape", ["x"], ["y"], Attr.Int("start", -2)).Out("y", L));
        yield return ("Shape opset 15: out-of-range start -10, end 10 clamp",
            X(15, [2, 3, 4, 5]).Op("Shape", ["x"], ["y"], Attr.Int("start", -10), Attr.Int("end", 10)).Out("y", L));

        // ---- Reshape ----
        yield return ("Reshape: [2,3,4] to [0,-1] (0 copies, -1 infers)",
            X(13, [2, 3, 4]).Init("s", 0, -1).Op("Reshape", ["x", "s"], ["y"]).Out("y", F));
        yield return ("Reshape: [2,3,4] to [-1,0,2]",
            X(13, [2, 3, 4]).Init("s", -1, 0, 2).Op("Reshape", ["x", "s"], ["y"]).Out("y", F));
        yield return ("Reshape: shape from a graph input",
            X(13, [2, 3, 4]).In("s", L, [2], Gen.Longs(4, -1)).Op("Reshape", ["x", "s"], ["y"]).Out("y", F));

        // ---- Concat ----
        yield return ("Concat: axis 1, three inputs of different sizes",
            new TinyModel(13).In("a", F, [2, 1, 3]).In("b", F, [2, 2, 3]).In("c", F, [2, 3, 3])
                .Op("Concat", ["a", "b", "c"], ["y"], Attr.Int("axis", 1)).Out("y", F));
        yield return ("Concat: int64 axis -1", WithAxis(Binary("Concat", [2, 2], [2, 3], L), -1));
        yield return ("Concat: with a zero-size initializer",
            X(13, [2, 3]).Init(Tensors.RawFloats("e", [2, 0], [])).Op("Concat", ["x", "e"], ["y"], Attr.Int("axis", 1)).Out("y", F));

        // ---- Slice ----
        yield return ("Slice opset 13: axes [0,2]", Slice([1, 2], [3, 5], [0, 2]));
        yield return ("Slice opset 13: negative starts and ends", Slice([-3, -4], [-1, -1], [1, 2]));
        yield return ("Slice opset 13: end INT64_MAX", Slice([2], [long.MaxValue], [2]));
        yield return ("Slice opset 13: steps 2, axes out of order", Slice([0, 1], [6, 5], [2, 1], [2, 2]));
        yield return ("Slice opset 13: step -1 reverses (start -1, end INT64_MIN)", Slice([-1], [long.MinValue], [2], [-1]));
        yield return ("Slice opset 13: step -2 from 4 down to 0 (exclusive)", Slice([4], [0], [1], [-2]));
        yield return ("Slice opset 13: step -3, start past the end clamps", Slice([100], [-100], [0], [-3]));
        yield return ("Slice opset 13: step -1, start and end below the range", Slice([-100], [-200], [0], [-1]));
        yield return ("Slice opset 13: omitted axes", Slice([1, 0], [3, -1]));
        yield return ("Slice opset 13: omitted axes with steps", Slice([3, 0], [0, 5], steps: [-1, 2]));
        yield return ("Slice opset 13: negative axis", Slice([1], [4], [-1]));
        yield return ("Slice opset 13: empty result (start after end)", Slice([3], [1], [0]));
        yield return ("Slice opset 10: inputs with steps", Slice([0, -1], [4, -6], [0, 1], [3, -2], opset: 10));
        yield return ("Slice opset 9: attributes starts/ends/axes",
            X(9, [4, 5, 6]).Op("Slice", ["x"], ["y"], Attr.Ints("starts", 1, -3), Attr.Ints("ends", 3, 100), Attr.Ints("axes", 0, 2)).Out("y", F));
        yield return ("Slice opset 9: attributes without axes",
            X(9, [4, 5, 6]).Op("Slice", ["x"], ["y"], Attr.Ints("starts", -2, 1), Attr.Ints("ends", 4, -1)).Out("y", F));

        // ---- Gather ----
        yield return ("Gather: axis 0, [2,2] indices with negatives",
            X(13, [5, 4]).In("i", L, [2, 2], Gen.Longs(0, -1, 3, -5)).Op("Gather", ["x", "i"], ["y"]).Out("y", F));
        yield return ("Gather: scalar index drops the axis",
            X(13, [5, 4]).Init(Tensors.Longs("i", [], 2)).Op("Gather", ["x", "i"], ["y"]).Out("y", F));
        yield return ("Gather: axis 1, negative indices",
            X(13, [2, 5, 3]).In("i", L, [4], Gen.Longs(-1, 0, -5, 2)).Op("Gather", ["x", "i"], ["y"], Attr.Int("axis", 1)).Out("y", F));
        yield return ("Gather: axis -1, scalar negative index",
            X(13, [2, 5, 3]).Init(Tensors.Longs("i", [], -2)).Op("Gather", ["x", "i"], ["y"], Attr.Int("axis", -1)).Out("y", F));
        yield return ("Gather: int32 indices",
            X(13, [4, 3]).In("i", I32, [3], Gen.Int32s(-4, 4)).Op("Gather", ["x", "i"], ["y"]).Out("y", F));
        yield return ("Gather: scalar index of a Shape (int64 data)",
            X(13, [2, 5, 3]).Init(Tensors.Longs("i", [], 1)).Op("Shape", ["x"], ["s"]).Op("Gather", ["s", "i"], ["y"]).Out("y", L));

        // ---- Unsqueeze / Squeeze ----
        yield return ("Unsqueeze opset 11: attribute axes [0,3]",
            X(11, [2, 3]).Op("Unsqueeze", ["x"], ["y"], Attr.Ints("axes", 0, 3)).Out("y", F));
        yield return ("Unsqueeze opset 11: attribute axis -1",
            X(11, [2, 3]).Op("Unsqueeze", ["x"], ["y"], Attr.Ints("axes", -1)).Out("y", F));
        yield return ("Unsqueeze opset 13: axes input [-1,1]",
            X(13, [2, 3]).Init("axes", -1, 1).Op("Unsqueeze", ["x", "axes"], ["y"]).Out("y", F));
        yield return ("Unsqueeze opset 13: scalar to [1]",
            X(13, []).Init("axes", 0).Op("Unsqueeze", ["x", "axes"], ["y"]).Out("y", F));
        yield return ("Squeeze opset 11: attribute axes [0,2]",
            X(11, [1, 3, 1, 4]).Op("Squeeze", ["x"], ["y"], Attr.Ints("axes", 0, 2)).Out("y", F));
        yield return ("Squeeze opset 11: no axes squeezes every 1",
            X(11, [1, 3, 1, 4]).Op("Squeeze", ["x"], ["y"]).Out("y", F));
        yield return ("Squeeze opset 13: axes input [-1]",
            X(13, [2, 3, 1]).Init("axes", -1).Op("Squeeze", ["x", "axes"], ["y"]).Out("y", F));
        yield return ("Squeeze opset 13: no axes input",
            X(13, [1, 3, 1, 2]).Op("Squeeze", ["x"], ["y"]).Out("y", F));

        // ---- Transpose / Flatten ----
        yield return ("Transpose: perm [0,2,3,1]", X(13, [2, 3, 4, 5]).Op("Transpose", ["x"], ["y"], Attr.Ints("perm", 0, 2, 3, 1)).Out("y", F));
        yield return ("Transpose: default reverses axes", X(13, [2, 3, 4]).Op("Transpose", ["x"], ["y"]).Out("y", F));
        foreach (long axis in new long[] { 0, 1, 2, 3, -1, -3 })
            yield return ($"Flatten: [2,3,4] axis {axis}", X(13, [2, 3, 4]).Op("Flatten", ["x"], ["y"], Attr.Int("axis", axis)).Out("y", F));
        yield return ("Flatten: default axis", X(13, [2, 3, 4]).Op("Flatten", ["x"], ["y"]).Out("y", F));

        // ---- Expand ----
        yield return ("Expand: [3,1] to [2,1,4] (bidirectional)",
            X(13, [3, 1]).Init("s", 2, 1, 4).Op("Expand", ["x", "s"], ["y"]).Out("y", F));
        yield return ("Expand: [2,4] with shape [1,1] keeps the larger dims",
            X(13, [2, 4]).Init("s", 1, 1).Op("Expand", ["x", "s"], ["y"]).Out("y", F));
        yield return ("Expand: int64 scalar to [2,3]",
            X(13, [], L).Init("s", 2, 3).Op("Expand", ["x", "s"], ["y"]).Out("y", L));

        // ---- ConstantOfShape ----
        yield return ("ConstantOfShape: int64 value",
            new TinyModel(13).Init("s", 2, 3).Op("ConstantOfShape", ["s"], ["y"], Attr.Tensor("value", Tensors.Longs("v", [1], 7))).Out("y", L));
        yield return ("ConstantOfShape: float value, shape from Shape(x)",
            X(13, [2, 3, 4]).Op("Shape", ["x"], ["s"]).Op("ConstantOfShape", ["s"], ["y"], Attr.Tensor("value", Tensors.Floats("v", [1], 0.5f))).Out("y", F));
        yield return ("ConstantOfShape: no value gives float zeros",
            new TinyModel(13).In("s", L, [2], Gen.Longs(3, 2)).Op("ConstantOfShape", ["s"], ["y"]).Out("y", F));
        yield return ("ConstantOfShape: empty shape gives a scalar",
            X(13, []).Op("Shape", ["x"], ["s"]).Op("ConstantOfShape", ["s"], ["y"], Attr.Tensor("value", Tensors.Floats("v", [1], 3f))).Out("y", F));

        // ---- Split ----
        yield return ("Split opset 11: equal parts (3 outputs, axis 0)",
            X(11, [6, 4]).Op("Split", ["x"], ["y0", "y1", "y2"]).Out("y0", F).Out("y1", F).Out("y2", F));
        yield return ("Split opset 11: split attribute [1,3] on axis 1",
            X(11, [2, 4]).Op("Split", ["x"], ["y0", "y1"], Attr.Int("axis", 1), Attr.Ints("split", 1, 3)).Out("y0", F).Out("y1", F));
        yield return ("Split opset 13: sizes input [2,1,3] on axis -1",
            X(13, [2, 6]).Init("split", 2, 1, 3).Op("Split", ["x", "split"], ["y0", "y1", "y2"], Attr.Int("axis", -1))
                .Out("y0", F).Out("y1", F).Out("y2", F));
        yield return ("Split opset 13: equal parts (2 outputs, axis 1)",
            X(13, [3, 4, 2]).Op("Split", ["x"], ["y0", "y1"], Attr.Int("axis", 1)).Out("y0", F).Out("y1", F));

        // ---- MatMul / Gemm ----
        yield return ("MatMul: [3,4] x [4,5]", Binary("MatMul", [3, 4], [4, 5]));
        yield return ("MatMul: batched broadcast [2,1,3,4] x [3,4,2]", Binary("MatMul", [2, 1, 3, 4], [3, 4, 2]));
        yield return ("MatMul: [2,3,4] x vector [4]", Binary("MatMul", [2, 3, 4], [4]));
        yield return ("MatMul: vector [4] x [4,3]", Binary("MatMul", [4], [4, 3]));
        yield return ("Gemm: bias [5] broadcast",
            new TinyModel(13).In("a", F, [3, 4]).Init("b", F, [4, 5]).Init("c", F, [5]).Op("Gemm", ["a", "b", "c"], ["y"]).Out("y", F));
        yield return ("Gemm: transA, bias [3,1]",
            new TinyModel(13).In("a", F, [4, 3]).Init("b", F, [4, 5]).Init("c", F, [3, 1])
                .Op("Gemm", ["a", "b", "c"], ["y"], Attr.Int("transA", 1)).Out("y", F));
        yield return ("Gemm: transB, alpha 0.5, beta 2, scalar bias",
            new TinyModel(13).In("a", F, [3, 4]).Init("b", F, [5, 4]).Init(Tensors.Floats("c", [], 0.75f))
                .Op("Gemm", ["a", "b", "c"], ["y"], Attr.Int("transB", 1), Attr.Float("alpha", 0.5f), Attr.Float("beta", 2f)).Out("y", F));
        yield return ("Gemm: transA and transB, alpha 1.5, beta 0.25, bias [3,5]",
            new TinyModel(13).In("a", F, [4, 3]).In("b", F, [5, 4]).In("c", F, [3, 5])
                .Op("Gemm", ["a", "b", "c"], ["y"], Attr.Int("transA", 1), Attr.Int("transB", 1), Attr.Float("alpha", 1.5f), Attr.Float("beta", 0.25f)).Out("y", F));
        yield return ("Gemm opset 11: no bias, alpha 2",
            new TinyModel(11).In("a", F, [3, 4]).In("b", F, [4, 5]).Op("Gemm", ["a", "b"], ["y"], Attr.Float("alpha", 2f)).Out("y", F));

        // ---- Conv ----
        yield return ("Conv: 3x3, pads 1, bias", Conv([1, 2, 5, 5], [3, 2, 3, 3], true, Attr.Ints("pads", 1, 1, 1, 1)));
        yield return ("Conv: 7x7 stride 2, asymmetric pads [3,3,2,2] (ResNet-stem style)",
            Conv([1, 3, 16, 16], [4, 3, 7, 7], false, Attr.Ints("kernel_shape", 7, 7), Attr.Ints("strides", 2, 2), Attr.Ints("pads", 3, 3, 2, 2)));
        yield return ("Conv: asymmetric pads [0,1,2,0]", Conv([1, 2, 6, 6], [2, 2, 3, 3], true, Attr.Ints("pads", 0, 1, 2, 0)));
        yield return ("Conv: auto_pad SAME_UPPER, 4x4 kernel, stride 2, odd input",
            Conv([1, 2, 7, 7], [3, 2, 4, 4], true, Attr.String("auto_pad", "SAME_UPPER"), Attr.Ints("strides", 2, 2)));
        yield return ("Conv: auto_pad SAME_LOWER, 4x4 kernel, stride 2, odd input",
            Conv([1, 2, 7, 7], [3, 2, 4, 4], true, Attr.String("auto_pad", "SAME_LOWER"), Attr.Ints("strides", 2, 2)));
        yield return ("Conv: auto_pad VALID, stride 2", Conv([1, 2, 7, 7], [3, 2, 3, 3], false, Attr.String("auto_pad", "VALID"), Attr.Ints("strides", 2, 2)));
        yield return ("Conv: dilation 2, pads 2", Conv([1, 2, 9, 9], [2, 2, 3, 3], true, Attr.Ints("dilations", 2, 2), Attr.Ints("pads", 2, 2, 2, 2)));
        yield return ("Conv: groups 2", Conv([1, 4, 6, 6], [6, 2, 3, 3], true, Attr.Int("group", 2)));
        yield return ("Conv: depthwise (group = channels), stride 2, pads 1",
            Conv([2, 3, 8, 8], [3, 1, 3, 3], true, Attr.Int("group", 3), Attr.Ints("strides", 2, 2), Attr.Ints("pads", 1, 1, 1, 1)));
        yield return ("Conv: rectangular kernel and strides", Conv([1, 2, 7, 9], [2, 2, 3, 1], false, Attr.Ints("strides", 2, 3)));
        yield return ("Conv 1-D: pads 1, stride 2, bias", Conv([2, 3, 10], [4, 3, 3], true, Attr.Ints("pads", 1, 1), Attr.Ints("strides", 2)));
        yield return ("Conv 1-D: asymmetric pads [2,0], dilation 2", Conv([1, 2, 9], [2, 2, 3], false, Attr.Ints("pads", 2, 0), Attr.Ints("dilations", 2)));
        yield return ("Conv 1-D: auto_pad SAME_UPPER, stride 2", Conv([1, 2, 9], [2, 2, 4], false, Attr.String("auto_pad", "SAME_UPPER"), Attr.Ints("strides", 2)));

        // ---- BatchNormalization ----
        yield return ("BatchNormalization opset 15: epsilon 1e-3",
            X(15, [2, 3, 4, 4]).Init("scale", F, [3]).Init("bias", F, [3]).Init("mean", F, [3]).Init("var", F, [3], Gen.Uniform(0.5, 2))
                .Op("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"], Attr.Float("epsilon", 1e-3f)).Out("y", F));
        yield return ("BatchNormalization opset 9: rank-2 input",
            X(9, [4, 3]).Init("scale", F, [3]).Init("bias", F, [3]).Init("mean", F, [3]).Init("var", F, [3], Gen.Uniform(0.5, 2))
                .Op("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"]).Out("y", F));

        // ---- Pooling ----
        yield return ("MaxPool: 3x3 stride 2 pads 1 (ResNet)",
            Pool("MaxPool", [1, 2, 9, 9], Attr.Ints("kernel_shape", 3, 3), Attr.Ints("strides", 2, 2), Attr.Ints("pads", 1, 1, 1, 1)));
        yield return ("MaxPool: 3x3 stride 2 asymmetric pads [1,1,0,0]",
            Pool("MaxPool", [1, 2, 8, 8], Attr.Ints("kernel_shape", 3, 3), Attr.Ints("strides", 2, 2), Attr.Ints("pads", 1, 1, 0, 0)));
        yield return ("MaxPool: 2x2 stride 2, no pads", Pool("MaxPool", [2, 3, 6, 6], Attr.Ints("kernel_shape", 2, 2), Attr.Ints("strides", 2, 2)));
        yield return ("MaxPool: auto_pad SAME_UPPER, 2x2 stride 2, odd input",
            Pool("MaxPool", [1, 2, 7, 7], Attr.Ints("kernel_shape", 2, 2), Attr.Ints("strides", 2, 2), Attr.String("auto_pad", "SAME_UPPER")));
        yield return ("MaxPool opset 12: dilation 2",
            Pool("MaxPool", [1, 1, 7, 7], Attr.Ints("kernel_shape", 2, 2), Attr.Ints("dilations", 2, 2)));
        yield return ("AveragePool: 3x3 stride 2 pads 1, count_include_pad 0",
            Pool("AveragePool", [1, 2, 7, 7], Attr.Ints("kernel_shape", 3, 3), Attr.Ints("strides", 2, 2), Attr.Ints("pads", 1, 1, 1, 1)));
        yield return ("AveragePool: 3x3 stride 2 pads 1, count_include_pad 1",
            Pool("AveragePool", [1, 2, 7, 7], Attr.Ints("kernel_shape", 3, 3), Attr.Ints("strides", 2, 2), Attr.Ints("pads", 1, 1, 1, 1), Attr.Int("count_include_pad", 1)));
        yield return ("AveragePool: asymmetric pads [0,1,1,0], count_include_pad 0",
            Pool("AveragePool", [1, 2, 5, 5], Attr.Ints("kernel_shape", 2, 2), Attr.Ints("pads", 0, 1, 1, 0)));
        yield return ("AveragePool: asymmetric pads [0,1,1,0], count_include_pad 1",
            Pool("AveragePool", [1, 2, 5, 5], Attr.Ints("kernel_shape", 2, 2), Attr.Ints("pads", 0, 1, 1, 0), Attr.Int("count_include_pad", 1)));
        yield return ("AveragePool: 2x2 stride 2, no pads", Pool("AveragePool", [2, 3, 6, 6], Attr.Ints("kernel_shape", 2, 2), Attr.Ints("strides", 2, 2)));
        yield return ("AveragePool: auto_pad SAME_UPPER, 3x3 stride 2",
            Pool("AveragePool", [1, 2, 8, 8], Attr.Ints("kernel_shape", 3, 3), Attr.Ints("strides", 2, 2), Attr.String("auto_pad", "SAME_UPPER")));
        yield return ("GlobalAveragePool: [2,3,5,4]", X(13, [2, 3, 5, 4]).Op("GlobalAveragePool", ["x"], ["y"]).Out("y", F));

        // ---- Softmax ----
        yield return ("Softmax opset 11: axis 1 on rank 3 (coerced to 2-D)", X(11, [2, 3, 4]).Op("Softmax", ["x"], ["y"], Attr.Int("axis", 1)).Out("y", F));
        yield return ("Softmax opset 11: default axis on rank 3", X(11, [2, 3, 4]).Op("Softmax", ["x"], ["y"]).Out("y", F));
        yield return ("Softmax opset 11: axis -1 on rank 3", X(11, [2, 3, 4]).Op("Softmax", ["x"], ["y"], Attr.Int("axis", -1)).Out("y", F));
        yield return ("Softmax opset 13: axis -1 on rank 3", X(13, [2, 3, 4]).Op("Softmax", ["x"], ["y"], Attr.Int("axis", -1)).Out("y", F));
        yield return ("Softmax opset 13: axis 1 on rank 3 (one axis only)", X(13, [2, 3, 4]).Op("Softmax", ["x"], ["y"], Attr.Int("axis", 1)).Out("y", F));
        yield return ("Softmax opset 13: default axis", X(13, [2, 3, 4]).Op("Softmax", ["x"], ["y"]).Out("y", F));

        // ---- LayerNormalization ----
        yield return ("LayerNormalization opset 17: axis -1 with bias",
            X(17, [2, 3, 8]).Init("scale", F, [8]).Init("bias", F, [8]).Op("LayerNormalization", ["x", "scale", "bias"], ["y"]).Out("y", F));
        yield return ("LayerNormalization opset 17: without bias",
            X(17, [2, 3, 8]).Init("scale", F, [8]).Op("LayerNormalization", ["x", "scale"], ["y"]).Out("y", F));
        yield return ("LayerNormalization opset 17: axis 1 over the last two dims, epsilon 1e-3",
            X(17, [2, 3, 4]).Init("scale", F, [3, 4]).Init("bias", F, [3, 4])
                .Op("LayerNormalization", ["x", "scale", "bias"], ["y"], Attr.Int("axis", 1), Attr.Float("epsilon", 1e-3f)).Out("y", F));

        // ---- Reductions ----
        yield return ("ReduceMean opset 13: attribute axes [1], keepdims 1", Reduce("ReduceMean", 13, [1], false, 1));
        yield return ("ReduceMean opset 13: attribute axes [0,2], keepdims 0", Reduce("ReduceMean", 13, [0, 2], false, 0));
        yield return ("ReduceMean opset 13: no axes reduces all, keepdims 0", Reduce("ReduceMean", 13, null, false, 0));
        yield return ("ReduceMean opset 18: axes input [-1], keepdims 0", Reduce("ReduceMean", 18, [-1], true, 0));
        yield return ("ReduceMean opset 18: axes input [0,2], keepdims 1", Reduce("ReduceMean", 18, [0, 2], true, 1));
        yield return ("ReduceMean opset 18: no axes reduces all", Reduce("ReduceMean", 18, null, true, 1));
        yield return ("ReduceSum opset 11: attribute axes [1]", Reduce("ReduceSum", 11, [1], false, 1));
        yield return ("ReduceSum opset 13: axes input [0,-1], keepdims 0", Reduce("ReduceSum", 13, [0, -1], true, 0));
        yield return ("ReduceSum opset 13: int64, axes input [1]", Reduce("ReduceSum", 13, [1], true, 1, L));
        yield return ("ReduceSum opset 13: empty axes initializer reduces all",
            X(13, [2, 3, 4]).Init(Tensors.Longs("axes", [0])).Op("ReduceSum", ["x", "axes"], ["y"], Attr.Int("keepdims", 0)).Out("y", F));
        yield return ("ReduceSum opset 13: noop_with_empty_axes without axes is identity",
            X(13, [2, 3, 4]).Op("ReduceSum", ["x"], ["y"], Attr.Int("noop_with_empty_axes", 1)).Out("y", F));
        yield return ("ReduceMax opset 13: attribute axes [1,2], keepdims 0", Reduce("ReduceMax", 13, [1, 2], false, 0));
        yield return ("ReduceMax opset 18: axes input [1]", Reduce("ReduceMax", 18, [1], true, 1));
        yield return ("ReduceMin opset 13: attribute axes [0], keepdims 1", Reduce("ReduceMin", 13, [0], false, 1));
        yield return ("ReduceMin opset 18: int64, axes input [-1], keepdims 0", Reduce("ReduceMin", 18, [-1], true, 0, L));

        // ---- Constant (folded at load) ----
        yield return ("Constant: value tensor added to the input",
            X(13, [2, 3]).Op("Constant", [], ["c"], Attr.Tensor("value", Tensors.Floats("v", [2, 3], 1, -2, 3, -4, 5, -6)))
                .Op("Add", ["x", "c"], ["y"]).Out("y", F));
        yield return ("Constant: value_float times the input",
            X(13, [2, 3]).Op("Constant", [], ["c"], Attr.Float("value_float", -1.5f)).Op("Mul", ["x", "c"], ["y"]).Out("y", F));
        yield return ("Constant: value_floats added to the input",
            X(13, [2, 3]).Op("Constant", [], ["c"], Attr.Floats("value_floats", 0.5f, -1, 2)).Op("Add", ["x", "c"], ["y"]).Out("y", F));
        yield return ("Constant: value_int added to int64 input",
            X(13, [2, 3], L).Op("Constant", [], ["c"], Attr.Int("value_int", 7)).Op("Add", ["x", "c"], ["y"]).Out("y", L));
        yield return ("Constant: value_ints as a Reshape shape",
            X(13, [2, 3, 4]).Op("Constant", [], ["s"], Attr.Ints("value_ints", 4, -1)).Op("Reshape", ["x", "s"], ["y"]).Out("y", F));
        yield return ("Constant: int64 tensor as the graph output",
            new TinyModel(13).Op("Constant", [], ["y"], Attr.Tensor("value", Tensors.Longs("v", [3], 4, -5, 6))).Out("y", L));

        // ---- More edge variants ----
        yield return ("Pow: int64 ^ int64", Binary("Pow", [2, 3], [2, 3], L, genA: Gen.Ints(-4, 5), genB: Gen.Ints(0, 4)));
        yield return ("MatMul: int64", Binary("MatMul", [2, 3], [3, 2], L));
        yield return ("Where: cond is the largest operand",
            new TinyModel(13).In("c", B, [2, 3, 4]).In("x", F, [4]).In("y", F, [3, 1])
                .Op("Where", ["c", "x", "y"], ["z"]).Out("z", F));
        yield return ("Expand: [2,3,4] with a shorter shape [4]",
            X(13, [2, 3, 4]).Init("s", 4).Op("Expand", ["x", "s"], ["y"]).Out("y", F));
        yield return ("Expand: shape from a graph input",
            X(13, [1, 3]).In("s", L, [3], Gen.Longs(2, 1, 3)).Op("Expand", ["x", "s"], ["y"]).Out("y", F));
        yield return ("Shape opset 15: start after end gives empty",
            X(15, [2, 3, 4]).Op("Shape", ["x"], ["y"], Attr.Int("start", 2), Attr.Int("end", 1)).Out("y", L));
        yield return ("Unsqueeze opset 13: unsorted axes [3,0]",
            X(13, [2, 3]).Init("axes", 3, 0).Op("Unsqueeze", ["x", "axes"], ["y"]).Out("y", F));
        yield return ("Split opset 18: num_outputs 3 on an uneven dim of 7",
            X(18, [7, 2]).Op("Split", ["x"], ["y0", "y1", "y2"], Attr.Int("num_outputs", 3)).Out("y0", F).Out("y1", F).Out("y2", F));
        yield return ("Softmax opset 11: axis 0 (over everything)", X(11, [2, 3, 4]).Op("Softmax", ["x"], ["y"], Attr.Int("axis", 0)).Out("y", F));
        // (ONNX Runtime rejects auto_pad SAME_* together with dilations > 1, so that pairing has no case.)
        yield return ("Conv: auto_pad SAME_UPPER, stride 1, even kernel",
            Conv([1, 2, 8, 8], [2, 2, 2, 2], true, Attr.String("auto_pad", "SAME_UPPER")));
        yield return ("Conv: groups 2, stride 2, dilation 2, asymmetric pads",
            Conv([1, 4, 11, 11], [4, 2, 3, 3], true, Attr.Int("group", 2), Attr.Ints("strides", 2, 2), Attr.Ints("dilations", 2, 2), Attr.Ints("pads", 2, 1, 0, 2)));
        yield return ("AveragePool: auto_pad SAME_LOWER, count_include_pad 0",
            Pool("AveragePool", [1, 2, 7, 7], Attr.Ints("kernel_shape", 2, 2), Attr.String("auto_pad", "SAME_LOWER")));
        yield return ("BatchNormalization opset 15: 1-D spatial input [2,3,5]",
            X(15, [2, 3, 5]).Init("scale", F, [3]).Init("bias", F, [3]).Init("mean", F, [3]).Init("var", F, [3], Gen.Uniform(0.5, 2))
                .Op("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"]).Out("y", F));
        yield return ("BatchNormalization opset 7", X(7, [2, 3, 4, 4]).Init("scale", F, [3]).Init("bias", F, [3]).Init("mean", F, [3]).Init("var", F, [3], Gen.Uniform(0.5, 2))
                .Op("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"]).Out("y", F));
        yield return ("GlobalAveragePool: 1-D spatial [2,3,7]", X(13, [2, 3, 7]).Op("GlobalAveragePool", ["x"], ["y"]).Out("y", F));
        yield return ("ReduceMax opset 13: no axes, keepdims 1", Reduce("ReduceMax", 13, null, false, 1));
        yield return ("ReduceMean opset 18: empty axes input with noop_with_empty_axes 1",
            X(18, [2, 3, 4]).Init(Tensors.Longs("axes", [0])).Op("ReduceMean", ["x", "axes"], ["y"], Attr.Int("noop_with_empty_axes", 1)).Out("y", F));
        yield return ("LayerNormalization opset 17: axis 0 normalises everything",
            X(17, [3, 4]).Init("scale", F, [3, 4]).Op("LayerNormalization", ["x", "scale"], ["y"], Attr.Int("axis", 0)).Out("y", F));
        yield return ("Concat: a single input", X(13, [2, 3]).Op("Concat", ["x"], ["y"], Attr.Int("axis", 0)).Out("y", F));
        yield return ("Gather: axis 1 with [2,2] indices on rank 3",
            X(13, [2, 4, 3]).In("i", L, [2, 2], Gen.Longs(3, -4, 0, 2)).Op("Gather", ["x", "i"], ["y"], Attr.Int("axis", 1)).Out("y", F));
        yield return ("Dropout opset 12: mask output", X(12, [2, 3]).Op("Dropout", ["x"], ["y", "mask"]).Out("y", F).Out("mask", B));
        yield return ("Pattern: an intermediate that is also a graph output",
            X(13, [2, 3]).Op("Relu", ["x"], ["r"]).Op("Add", ["r", "x"], ["y"]).Op("Mul", ["r", "y"], ["z"]).Out("r", F).Out("z", F));

        // ---- Few-node patterns exporters emit ----
        yield return ("Pattern: Shape, Gather, Unsqueeze, Concat, Reshape (dynamic flatten)",
            X(13, [2, 3, 4]).Init(Tensors.Longs("zero", [], 0)).Init("axes", 0).Init("minus1", -1)
                .Op("Shape", ["x"], ["s"]).Op("Gather", ["s", "zero"], ["n"]).Op("Unsqueeze", ["n", "axes"], ["n1"])
                .Op("Concat", ["n1", "minus1"], ["shape"], Attr.Int("axis", 0)).Op("Reshape", ["x", "shape"], ["y"]).Out("y", F));
        yield return ("Pattern: attention scores, MatMul, Transpose, Div, Softmax, MatMul",
            new TinyModel(13).In("q", F, [2, 4, 8]).In("k", F, [2, 4, 8]).In("v", F, [2, 4, 8]).Init(Tensors.Floats("d", [], 2.828427f))
                .Op("Transpose", ["k"], ["kt"], Attr.Ints("perm", 0, 2, 1)).Op("MatMul", ["q", "kt"], ["s"])
                .Op("Div", ["s", "d"], ["sd"]).Op("Softmax", ["sd"], ["p"], Attr.Int("axis", -1))
                .Op("MatMul", ["p", "v"], ["y"]).Out("y", F));
        yield return ("Pattern: decomposed LayerNorm, ReduceMean, Sub, Pow, Add, Sqrt, Div",
            X(13, [2, 3, 8]).Init(Tensors.Floats("two", [], 2f)).Init(Tensors.Floats("eps", [], 1e-5f))
                .Op("ReduceMean", ["x"], ["mu"], Attr.Ints("axes", -1)).Op("Sub", ["x", "mu"], ["d"])
                .Op("Pow", ["d", "two"], ["d2"]).Op("ReduceMean", ["d2"], ["var"], Attr.Ints("axes", -1))
                .Op("Add", ["var", "eps"], ["ve"]).Op("Sqrt", ["ve"], ["sd"]).Op("Div", ["d", "sd"], ["y"]).Out("y", F));
        yield return ("Pattern: decomposed Gelu, Div, Erf, Add, Mul, Mul",
            X(13, [2, 3, 4], gen: Gen.Uniform(-4, 4)).Init(Tensors.Floats("sqrt2", [], 1.4142135f)).Init(Tensors.Floats("one", [], 1f)).Init(Tensors.Floats("half", [], 0.5f))
                .Op("Div", ["x", "sqrt2"], ["a"]).Op("Erf", ["a"], ["e"]).Op("Add", ["e", "one"], ["e1"])
                .Op("Mul", ["x", "e1"], ["m"]).Op("Mul", ["m", "half"], ["y"]).Out("y", F));
    }

    static TinyModel WithAxis(TinyModel m, long axis)
    {
        foreach (var n in m.Nodes) n.Attribute.Add(Attr.Int("axis", axis));
        return m;
    }
}
