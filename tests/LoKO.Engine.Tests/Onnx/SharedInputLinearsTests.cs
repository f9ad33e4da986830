using LoKO.Engine.Models;
using LoKO.Engine.Onnx;
using LoKO.Engine.Presets;
using LoKO.Engine.Tests.Models;
using Xunit.Abstractions;
using static TorchSharp.torch;
using static LoKO.Engine.Tests.Models.PlanRuns;
using DataType = Onnx.TensorProto.Types.DataType;
using static LoKO.Engine.Tests.Onnx.OnnxRuntimeReference;

namespace LoKO.Engine.Tests.Onnx;

/// <summary>
/// Linears that read one input (attention's query, key and value) run as one packed product with their weights
/// side by side: the real MiniLM's outputs equal those of the plan that runs each linear alone, of the node-by-node
/// plan and of ONNX Runtime, at one and two threads. A gradient through the product, or a hook on any of them,
/// keeps separate linears, so gradients and LoRA sites are as before.
/// </summary>
[Collection(ModelCollection.Name)]
public class SharedInputLinearsTests(ModelFixture models, ITestOutputHelper output)
{
    static GraphExecutor Executor(BaseModel model, bool fuse = true, bool shared = true)
    {
        var executor = new GraphExecutor(model.Graph, model.Device, fuse) { FuseSharedInputLinears = shared };
        return Relaxed(executor, model);
    }

    static long Products(GraphExecutor executor) => executor.PackedWeights.All.Sum(w => w.Products);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void MiniLmsQueryKeyAndValueRunAsOneProductAndMatchSeparateLinearsAndOnnxRuntime(int threads)
    {
        int previous = get_num_threads();
        try
        {
            set_num_threads(threads);
            var model = models.MiniLm;
            string[] outputs = [.. model.Graph.Outputs.Select(o => o.Name)];
            using var shared = Executor(model);
            using var separate = Executor(model, shared: false);
            using var unfused = Executor(model, fuse: false);
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            using var inputs = model.Encode(TestInputs.Texts(2));

            var plan = shared.PlanFor(outputs);
            Assert.Equal(6, plan.Steps.Count(s => s.OpType == "MatMul+Add×3"));
            Assert.Equal(18, plan.Steps.Count(s => s.OpType == "MatMul+Add"));
            Assert.Equal(separate.PlanFor(outputs).FusedNodes.Select(n => n.Index).Order(), plan.FusedNodes.Select(n => n.Index).Order());
            var ours = shared.Run(inputs.Feeds, outputs);
            // Every product packed: one per step.
            Assert.Equal(24, Products(shared));

            var reference = separate.Run(inputs.Feeds, outputs);
            var nodes = unfused.Run(inputs.Feeds, outputs);
            byte[] bytes;
            using (var s = ModelAssets.OpenMiniLmModel()) { var ms = new MemoryStream(); s.CopyTo(ms); bytes = ms.ToArray(); }
            var ort = RunOnnxRuntime(bytes, [.. inputs.Feeds.Select(kv => FromTorch(kv.Key, kv.Value))], outputs);
            foreach (var (o, theirs) in outputs.Zip(ort))
            {
                AssertClose(ours[o], reference[o], 1e-5, $"'{o}' against separate linears");
                AssertClose(ours[o], nodes[o], 1e-5, $"'{o}' against the node-by-node plan");
                AssertClose(ours[o], ToTorch(theirs), 1e-4, $"'{o}' against ONNX Runtime");
            }
        }
        finally
        {
            set_num_threads(previous);
        }
    }

    /// <summary>
    /// x [2, 3, 8] read by three linears of widths 16, 16 and 4; a Relu reads the first before the second's
    /// MatMul, so the group must run where its first node was.
    /// </summary>
    static TinyModel ThreeLinears() => new TinyModel(13).In("x", DataType.Float, [2, 3, 8])
        .Init("wa", DataType.Float, [8, 16]).Init("ba", DataType.Float, [16])
        .Init("wb", DataType.Float, [8, 16]).Init("bb", DataType.Float, [16])
        .Init("wc", DataType.Float, [8, 4]).Init("bc", DataType.Float, [4])
        .Op("MatMul", ["x", "wa"], ["ha"]).Op("Add", ["ha", "ba"], ["a"]).Op("Relu", ["a"], ["ra"])
        .Op("MatMul", ["x", "wb"], ["hb"]).Op("Add", ["bb", "hb"], ["b"])
        .Op("MatMul", ["x", "wc"], ["hc"]).Op("Add", ["hc", "bc"], ["c"])
        .Out("ra", DataType.Float).Out("b", DataType.Float).Out("c", DataType.Float);

    static readonly string[] Outputs = ["ra", "b", "c"];

    [Fact]
    public void AnInputThatNeedsAGradientGetsSeparateLinearsAndTheExactGradient()
    {
        var model = ThreeLinears();
        using var graph = OnnxGraph.FromProto(model.Proto(), "three linears");
        using var fused = new GraphExecutor(graph);
        using var unfused = new GraphExecutor(graph, fuse: false);
        using var scope = NewDisposeScope();
        var x = ToTorch(model.Feeds()[0]);
        Assert.Equal(["MatMul+Add×3", "Relu"], fused.PlanFor(Outputs).Steps.Select(s => s.OpType));

        Tensor Gradient(GraphExecutor executor)
        {
            var leaf = x.clone().requires_grad_(true);
            var y = executor.Run(new Dictionary<string, Tensor> { ["x"] = leaf }, Outputs);
            var loss = Outputs.Select(o => (y[o] * y[o]).sum()).Aggregate((a, b) => a + b);
            return autograd.grad([loss], [leaf])[0];
        }

        AssertClose(Gradient(fused), Gradient(unfused), 1e-5, "dx");
        Assert.Equal(0, Products(fused));
        using (no_grad())
        {
            var feeds = new Dictionary<string, Tensor> { ["x"] = x };
            var y = fused.Run(feeds, Outputs);
            Assert.Equal(1, Products(fused));
            var reference = unfused.Run(feeds, Outputs);
            foreach (var o in Outputs) AssertClose(y[o], reference[o], 1e-5, $"'{o}' without a gradient");
        }
    }

    [Fact]
    public void AHookOnOneOfThemKeepsEachLinearOnItsOwn()
    {
        var model = ThreeLinears();
        using var graph = OnnxGraph.FromProto(model.Proto(), "three linears");
        using var fused = new GraphExecutor(graph);
        using var unfused = new GraphExecutor(graph, fuse: false);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var feeds = new Dictionary<string, Tensor> { ["x"] = ToTorch(model.Feeds()[0]) };
        var hook = new DoublingHook("hb");
        Assert.Equal(["MatMul+Add", "Relu", "MatMul", "Add", "MatMul+Add"], fused.PlanFor(Outputs, hook).Steps.Select(s => s.OpType));

        var hooked = fused.Run(feeds, Outputs, hook);
        Assert.Equal(1, hook.Calls);
        var reference = unfused.Run(feeds, Outputs, new DoublingHook("hb"));
        foreach (var o in Outputs) AssertClose(hooked[o], reference[o], 1e-5, $"'{o}' with the second MatMul hooked");
        Assert.False(hooked["b"].allclose(fused.Run(feeds, Outputs)["b"]), "the hook should have changed 'b'");
    }

    /// <summary>Doubles the output of the MatMul that writes <paramref name="output"/>.</summary>
    sealed class DoublingHook(string output) : INodeHook
    {
        public int Calls { get; private set; }

        public bool Hooks(OnnxNode node) => node.OpType == "MatMul" && node.Outputs[0] == output;

        public Tensor After(OnnxNode node, IReadOnlyList<Tensor?> inputs, Tensor result)
        {
            Calls++;
            return result * 2;
        }
    }

    void AssertClose(Tensor actual, Tensor expected, double tolerance, string what) => AssertCloseToScale(output, actual, expected, tolerance, what);
}
