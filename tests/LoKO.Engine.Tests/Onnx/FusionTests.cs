using LoKO.Engine.Onnx;
using Onnx;
using TorchSharp;
using DataType = Onnx.TensorProto.Types.DataType;
using static LoKO.Engine.Tests.Onnx.OnnxRuntimeReference;

namespace LoKO.Engine.Tests.Onnx;

/// <summary>
/// Load-time fusion on small graphs built as exporters emit the patterns: what fuses runs as one step and
/// still matches ONNX Runtime; variants that must not fuse (an intermediate read elsewhere, another axis
/// or constant) run node by node and match too.
/// </summary>
public class FusionTests
{
    const DataType F = DataType.Float;

    public static TheoryData<string> CaseNames => [.. FusionCases.All.Keys];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void FusesExactlyThePatternAndMatchesOnnxRuntime(string name)
    {
        var (model, fused) = FusionCases.All[name];
        var feeds = model.Feeds();
        var proto = model.Proto();
        string[] outputs = [.. proto.Graph.Output.Select(o => o.Name)];
        var expected = RunOnnxRuntime(model.Bytes(), feeds, outputs);

        using var graph = OnnxGraph.FromProto(proto, name);
        using var executor = new GraphExecutor(graph);
        var plan = executor.PlanFor(outputs);
        Assert.Equal(fused, plan.Steps.Where(s => s.Fused).Select(s => s.OpType));
        Assert.Equal(graph.Nodes.Count, plan.Steps.Length + plan.FusedNodes.Length - fused.Length);

        using var scope = torch.NewDisposeScope();
        var actual = executor.Run(feeds.ToDictionary(f => f.Name, ToTorch));
        foreach (var (o, e) in outputs.Zip(expected))
            AssertClose(e, FromTorch(o, actual[o]), $"output '{o}'");
    }

    [Fact]
    public void AHookOnAFusedNodeRunsTheNodesOneByOne()
    {
        var model = FusionCases.LayerNorm(new TinyModel(13).In("x", F, [2, 3, 8]), "x", "y").Out("y", F);
        using var graph = OnnxGraph.FromProto(model.Proto(), "hooked");
        using var fused = new GraphExecutor(graph);
        using var unfused = new GraphExecutor(graph, fuse: false);
        using var scope = torch.NewDisposeScope();
        var feeds = model.Feeds().ToDictionary(f => f.Name, ToTorch);

        var hook = new DoublingHook("Sqrt");
        var hooked = fused.Run(feeds, ["y"], hook)["y"];
        Assert.Equal(1, hook.Calls);
        var reference = unfused.Run(feeds, ["y"], new DoublingHook("Sqrt"))["y"];
        Assert.True(hooked.eq(reference).all().item<bool>(), "the hooked run should be the node-by-node run");
        Assert.False(hooked.allclose(fused.Run(feeds, ["y"])["y"]), "the hook should have changed the output");
    }

    [Fact]
    public void AHookOnAFusedMatMulKeepsItAsItselfAndTheRestFused()
    {
        var model = FusionCases.Linear(FusionCases.LayerNorm(new TinyModel(13).In("x", F, [2, 3, 8]), "x", "ln"), "ln", "y").Out("y", F);
        using var graph = OnnxGraph.FromProto(model.Proto(), "hooked linear");
        using var fused = new GraphExecutor(graph);
        using var unfused = new GraphExecutor(graph, fuse: false);
        using var scope = torch.NewDisposeScope();
        var feeds = model.Feeds().ToDictionary(f => f.Name, ToTorch);
        Assert.Equal(["LayerNormalization", "MatMul+Add"], fused.PlanFor(["y"]).Steps.Where(s => s.Fused).Select(s => s.OpType));

        var hook = new DoublingHook("MatMul");
        Assert.Equal(["LayerNormalization", "MatMul", "Add"], fused.PlanFor(["y"], hook).Steps.Select(s => s.OpType));
        var hooked = fused.Run(feeds, ["y"], hook)["y"];
        Assert.Equal(1, hook.Calls);
        var reference = unfused.Run(feeds, ["y"], new DoublingHook("MatMul"))["y"];
        Assert.True(hooked.allclose(reference, rtol: 1e-5, atol: 1e-5), "the hooked MatMul should see its own output, as unfused");
        Assert.False(hooked.allclose(fused.Run(feeds, ["y"])["y"]), "the hook should have changed the output");
    }

    sealed class DoublingHook(string opType) : INodeHook
    {
        public int Calls { get; private set; }

        public bool Hooks(OnnxNode node) => node.OpType == opType;

        public torch.Tensor After(OnnxNode node, IReadOnlyList<torch.Tensor?> inputs, torch.Tensor output)
        {
            Calls++;
            return output * 2;
        }
    }
}

/// <summary>The fusion cases by readable name, each with the fused ops its plan should hold, in order.</summary>
static class FusionCases
{
    const DataType F = DataType.Float;

    public static readonly IReadOnlyDictionary<string, (TinyModel Model, string[] Fused)> All =
        Build().ToDictionary(c => c.Name, c => (c.Model, c.Fused));

    const string Ln = "LayerNormalization", Gelu = "Gelu", ConvBn = "Conv+BatchNormalization",
        ConvBnRelu = "Conv+BatchNormalization+Relu", MatMulAdd = "MatMul+Add", Attention = "Attention";

    static TinyModel X() => new TinyModel(13).In("x", F, [2, 3, 8]);

    static IEnumerable<(string Name, TinyModel Model, string[] Fused)> Build()
    {
        yield return ("LayerNorm opset 13 with γ and β, as BERT exports it", LayerNorm(X(), "x", "y").Out("y", F), [Ln]);
        yield return ("LayerNorm opset 18: axes input, constants first in Add and Mul",
            LayerNorm(new TinyModel(18).In("x", F, [2, 3, 8]), "x", "y", constantsFirst: true).Out("y", F), [Ln]);
        yield return ("LayerNorm without γ and β", LayerNorm(X(), "x", "y", affine: false).Out("y", F), [Ln]);
        yield return ("LayerNorm, then a scalar Mul (not a per-feature γ) stays",
            LayerNorm(X(), "x", "n", affine: false).Init(Tensors.Floats("k", [1], 3f)).Op("Mul", ["n", "k"], ["y"]).Out("y", F), [Ln]);
        yield return ("LayerNorm whose normalised value is read elsewhere fuses without γ and β",
            LayerNorm(X(), "x", "y").Op("Add", ["n", "x"], ["z"]).Out("y", F).Out("z", F), [Ln]);
        yield return ("Gelu: x/√2, Erf, +1, x·, ·0.5 (BERT)", GeluNodes(X(), "x", "y").Out("y", F), [Gelu]);
        yield return ("Gelu: (x·0.5) · (1 + erf(1/√2 · x))", GeluNodes(X(), "x", "y", halfFirst: true).Out("y", F), [Gelu]);
        yield return ("LayerNorm, MatMul, Gelu: a transformer block's middle",
            GeluNodes(LayerNorm(X(), "x", "ln").Init("w", F, [8, 16]).Op("MatMul", ["ln", "w"], ["h"]), "h", "y").Out("y", F), [Ln, Gelu]);

        yield return ("Conv then BatchNormalization folds into one convolution (ResNet)", ConvBatchNorm(Image(), "x", "y").Out("y", F), [ConvBn]);
        yield return ("Conv without a bias, stride 2, then BatchNormalization",
            ConvBatchNorm(Image(), "x", "y", bias: false, attributes: Attr.Ints("strides", 2, 2)).Out("y", F), [ConvBn]);
        yield return ("Conv, BatchNormalization, then Relu run as one step",
            ConvBatchNorm(Image(), "x", "n").Op("Relu", ["n"], ["y"]).Out("y", F), [ConvBnRelu]);
        yield return ("A residual block: channels-last values through Relu and Add into the next Conv",
            ResidualBlock(Image(), "y").Out("y", F), [ConvBnRelu, ConvBn]);
        yield return ("Conv and BatchNormalization whose normalised value is read elsewhere leave the Relu out",
            ConvBatchNorm(Image(), "x", "n").Op("Relu", ["n"], ["y"]).Out("y", F).Out("n", F), [ConvBn]);
        yield return ("MatMul by a weight, then its bias (a Linear layer)", Linear(X(), "x", "y").Out("y", F), [MatMulAdd]);
        yield return ("Attention: QKᵀ, ÷√d, + mask, Softmax, ·V (BERT)", AttentionNodes(Heads(), "y").Out("y", F), [Attention]);
        yield return ("Attention: QKᵀ · 1/√d, no mask", AttentionNodes(Heads(), "y", multiply: true, mask: false).Out("y", F), [Attention]);
        yield return ("Attention with another scale (÷3) fuses and computes what its nodes do",
            AttentionNodes(Heads(), "y", divisor: 3).Out("y", F), [Attention]);
        yield return ("Attention, then a Linear over its output",
            Linear(AttentionNodes(Heads(), "a").Init("w2", F, [4, 4]).Init("b2", F, [4]), "a", "y", "w2", "b2").Out("y", F), [Attention, MatMulAdd]);

        yield return ("not fused: Conv whose output is read elsewhere",
            ConvBatchNorm(Image(), "x", "y").Op("Relu", ["c"], ["r"]).Out("y", F).Out("r", F), []);
        yield return ("not fused: Conv with a weight fed at run time",
            new TinyModel(13).In("x", F, [1, 3, 6, 6]).In("w", F, [4, 3, 3, 3]).Init("s", F, [4], Gen.Uniform(0.5, 1.5)).Init("b", F, [4])
                .Init("m", F, [4]).Init("v", F, [4], Gen.Uniform(0.5, 2)).Op("Conv", ["x", "w"], ["c"])
                .Op("BatchNormalization", ["c", "s", "b", "m", "v"], ["y"]).Out("y", F), []);
        yield return ("not fused: MatMul whose product is read elsewhere", Linear(X(), "x", "y").Out("y", F).Out("h", F), []);
        yield return ("not fused: MatMul plus a [1, 16] (not 1-D) bias",
            X().Init("w", F, [8, 16]).Init("b", F, [1, 16]).Op("MatMul", ["x", "w"], ["h"]).Op("Add", ["h", "b"], ["y"]).Out("y", F), []);
        yield return ("not fused: attention whose probabilities are read elsewhere", AttentionNodes(Heads(), "y").Out("y", F).Out("p", F), []);
        yield return ("not fused: LayerNorm whose centred value is read elsewhere",
            LayerNorm(X(), "x", "y").Op("Add", ["y", "d"], ["z"]).Out("z", F), []);
        yield return ("not fused: LayerNorm whose variance is a graph output", LayerNorm(X(), "x", "y").Out("y", F).Out("var", F), []);
        yield return ("not fused: LayerNorm over axis 1", LayerNorm(X(), "x", "y", axis: 1).Out("y", F), []);
        yield return ("not fused: LayerNorm with exponent 4", LayerNorm(X(), "x", "y", exponent: 4).Out("y", F), []);
        yield return ("not fused: Gelu whose Erf output is read elsewhere",
            GeluNodes(X(), "x", "y").Op("Add", ["y", "e"], ["z"]).Out("z", F), []);
        yield return ("not fused: Gelu with x/1.5 instead of x/√2", GeluNodes(X(), "x", "y", divisor: 1.5f).Out("y", F), []);
    }

    static TinyModel Image() => new TinyModel(13).In("x", F, [2, 3, 6, 6]);

    /// <summary>
    /// Conv (into c) with 4 filters, pads 1, then BatchNormalization with constant statistics. A second one in the
    /// same graph takes a <paramref name="prefix"/> for its constants and conv output, and 4 input channels.
    /// </summary>
    public static TinyModel ConvBatchNorm(TinyModel m, string x, string y, bool bias = true, string prefix = "", params AttributeProto[] attributes)
    {
        string N(string name) => prefix + name;
        m.Init(N("w"), F, [4, prefix == "" ? 3 : 4, 3, 3]).Init(N("s"), F, [4], Gen.Uniform(0.5, 1.5)).Init(N("b"), F, [4])
            .Init(N("m"), F, [4]).Init(N("v"), F, [4], Gen.Uniform(0.5, 2));
        if (bias) m.Init(N("cb"), F, [4]);
        return m.Op("Conv", bias ? [x, N("w"), N("cb")] : [x, N("w")], [N("c")], [Attr.Ints("pads", 1, 1, 1, 1), .. attributes])
            .Op("BatchNormalization", [N("c"), N("s"), N("b"), N("m"), N("v")], [y], Attr.Float("epsilon", 1e-3f));
    }

    /// <summary>
    /// ResNet's basic block: Conv, BN, Relu (into r1), Conv, BN (into n2), Add of the first block's output
    /// (into sum), Relu: channels-last values flow through Relu and Add into the next convolution.
    /// </summary>
    public static TinyModel ResidualBlock(TinyModel m, string y) =>
        ConvBatchNorm(ConvBatchNorm(m, "x", "n1").Op("Relu", ["n1"], ["r1"]), "r1", "n2", prefix: "b2")
            .Op("Add", ["n2", "r1"], ["sum"]).Op("Relu", ["sum"], [y]);

    /// <summary>MatMul by a constant weight (into h), then Add of its bias, bias first as Hugging Face exports it.</summary>
    public static TinyModel Linear(TinyModel m, string x, string y, string w = "w", string b = "b")
    {
        if (w == "w") m.Init("w", F, [8, 16]).Init("b", F, [16]);
        return m.Op("MatMul", [x, w], ["h"]).Op("Add", [b, "h"], [y]);
    }

    /// <summary>Q [1,2,5,4], Kᵀ [1,2,4,5], V [1,2,5,4] and an additive mask [1,1,1,5] (0 or −10000) fed at run time.</summary>
    static TinyModel Heads() => new TinyModel(13).In("q", F, [1, 2, 5, 4]).In("kt", F, [1, 2, 4, 5]).In("v", F, [1, 2, 5, 4])
        .In("mask", F, [1, 1, 1, 5], Gen.Floats(0, 0, 0, -10000, 0));

    /// <summary>MatMul(q, kt) into s, scaled into t, masked into u, Softmax into p, MatMul(p, v).</summary>
    public static TinyModel AttentionNodes(TinyModel m, string y, bool multiply = false, bool mask = true, float divisor = 2)
    {
        m.Init(Tensors.Floats("scale", [], multiply ? 1 / divisor : divisor)).Op("MatMul", ["q", "kt"], ["s"])
            .Op(multiply ? "Mul" : "Div", ["s", "scale"], ["t"]);
        if (mask) m.Op("Add", ["t", "mask"], ["u"]);
        return m.Op("Softmax", [mask ? "u" : "t"], ["p"], Attr.Int("axis", -1)).Op("MatMul", ["p", "v"], [y]);
    }

    /// <summary>
    /// ReduceMean, Sub, Pow, ReduceMean, Add ε, Sqrt, Div (into n), then Mul γ and Add β: the decomposed
    /// LayerNorm over the last of 8 features. Intermediates are named mu, d, d2, var, ve, sd, n and g.
    /// </summary>
    public static TinyModel LayerNorm(TinyModel m, string x, string y, long axis = -1, float exponent = 2,
                                      bool affine = true, bool constantsFirst = false)
    {
        m.Init(Tensors.Floats("two", [], exponent)).Init(Tensors.Floats("eps", [], 1e-12f));
        bool axesInput = m.Opset >= 18;
        if (axesInput) m.Init("axes", axis);
        AttributeProto[] attributes = axesInput ? [] : [Attr.Ints("axes", axis)];
        string[] Mean(string v) => axesInput ? [v, "axes"] : [v];
        string[] Pair(string value, string constant) => constantsFirst ? [constant, value] : [value, constant];

        m.Op("ReduceMean", Mean(x), ["mu"], attributes).Op("Sub", [x, "mu"], ["d"]).Op("Pow", ["d", "two"], ["d2"])
            .Op("ReduceMean", Mean("d2"), ["var"], attributes).Op("Add", Pair("var", "eps"), ["ve"]).Op("Sqrt", ["ve"], ["sd"]);
        if (!affine) return m.Op("Div", ["d", "sd"], [y]);
        return m.Init("gamma", F, [8], Gen.Uniform(0.5, 1.5)).Init("beta", F, [8])
            .Op("Div", ["d", "sd"], ["n"]).Op("Mul", Pair("n", "gamma"), ["g"]).Op("Add", Pair("g", "beta"), [y]);
    }

    /// <summary>Erf GELU in either association exporters use; intermediates are named a, e, e1, m and h.</summary>
    public static TinyModel GeluNodes(TinyModel m, string x, string y, bool halfFirst = false, float divisor = 1.4142135f)
    {
        m.Init(Tensors.Floats("one", [], 1f)).Init(Tensors.Floats("half", [], 0.5f));
        if (!halfFirst)
            return m.Init(Tensors.Floats("sqrt2", [], divisor))
                .Op("Div", [x, "sqrt2"], ["a"]).Op("Erf", ["a"], ["e"]).Op("Add", ["e", "one"], ["e1"])
                .Op("Mul", [x, "e1"], ["m"]).Op("Mul", ["m", "half"], [y]);
        return m.Init(Tensors.Floats("rsqrt2", [], 1 / divisor))
            .Op("Mul", [x, "half"], ["h"]).Op("Mul", ["rsqrt2", x], ["a"]).Op("Erf", ["a"], ["e"])
            .Op("Add", ["one", "e"], ["e1"]).Op("Mul", ["e1", "h"], [y]);
    }
}
