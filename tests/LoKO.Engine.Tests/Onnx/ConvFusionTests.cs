using LoKO.Engine.Onnx;
using TorchSharp;
using DataType = Onnx.TensorProto.Types.DataType;
using static LoKO.Engine.Tests.Onnx.OnnxRuntimeReference;

namespace LoKO.Engine.Tests.Onnx;

/// <summary>
/// The folded convolution runs channels-last with its Relu in place: gradients through it must be those of the
/// nodes run one by one, and a hooked Relu must run as itself while its Conv and norm stay folded. A Conv that runs as
/// its node reads its weight channels-last, as its activations are, with the graph's values.
/// </summary>
public class ConvFusionTests
{
    const DataType F = DataType.Float;

    [Fact]
    public void EveryConvWeightIsChannelsLastInTheExecutorAndTheGraphKeepsItsOwn()
    {
        var model = FusionCases.ResidualBlock(new TinyModel(14).In("x", F, [2, 3, 6, 6]), "y").Out("y", F);
        using var graph = OnnxGraph.FromProto(model.Proto(), "residual block");
        using var executor = new GraphExecutor(graph, fuse: false);
        var weights = graph.Nodes.Where(n => n.OpType == "Conv").Select(n => n.Inputs[1]).Distinct().ToList();
        Assert.NotEmpty(weights);
        foreach (var name in weights)
        {
            var ours = executor.Constant(name);
            var theirs = graph.Initializers[name];
            Assert.True(LoKO.Engine.Onnx.Ops.ChannelsLast.Is(ours), $"'{name}' should be channels-last in the executor");
            Assert.True(theirs.is_contiguous(), $"the graph's '{name}' should stay as it was loaded");
            Assert.True(ours.allclose(theirs, rtol: 0, atol: 0), $"'{name}' should hold the graph's values");
        }
        // And the node-by-node run still gives the fused plan's outputs (the channels-last weight is read as the same).
        using var fused = new GraphExecutor(graph);
        using var scope = torch.NewDisposeScope();
        var x = ToTorch(model.Feeds().Single());
        var a = executor.Run(new Dictionary<string, torch.Tensor> { ["x"] = x })["y"];
        var b = fused.Run(new Dictionary<string, torch.Tensor> { ["x"] = x })["y"];
        Assert.True(a.allclose(b, rtol: 1e-5, atol: 1e-5));
    }

    [Fact]
    public void GradientsThroughAFusedResidualBlockAreThoseOfItsNodes()
    {
        var model = FusionCases.ResidualBlock(new TinyModel(13).In("x", F, [2, 3, 6, 6]), "y").Out("y", F);
        using var graph = OnnxGraph.FromProto(model.Proto(), "residual block");
        using var fused = new GraphExecutor(graph);
        using var unfused = new GraphExecutor(graph, fuse: false);
        Assert.Equal(["Conv+BatchNormalization+Relu", "Conv+BatchNormalization"],
            fused.PlanFor(["y"]).Steps.Where(s => s.Fused).Select(s => s.OpType));
        using var scope = torch.NewDisposeScope();
        var x = ToTorch(model.Feeds().Single());

        torch.Tensor Gradient(GraphExecutor executor, out torch.Tensor y)
        {
            var input = x.detach().requires_grad_();
            y = executor.Run(new Dictionary<string, torch.Tensor> { ["x"] = input })["y"];
            // A weighted sum, so that every output element's gradient differs.
            using var weights = torch.linspace(-1, 1, y.numel()).reshape(y.shape);
            (y * weights).sum().backward();
            return input.grad ?? throw new InvalidOperationException("no gradient reached the input");
        }

        var fusedGrad = Gradient(fused, out var fusedY);
        var referenceGrad = Gradient(unfused, out var referenceY);
        Assert.True(fusedY.allclose(referenceY, rtol: 1e-5, atol: 1e-5), "the fused block should compute what its nodes do");
        Assert.True(fusedGrad.allclose(referenceGrad, rtol: 1e-5, atol: 1e-5), "the input's gradient should be the node-by-node one");
        Assert.True(referenceGrad.abs().sum().item<float>() > 0, "the gradient should not vanish");
    }

    [Fact]
    public void AHookedReluRunsAsItselfAfterTheFoldedConvolution()
    {
        var model = FusionCases.ConvBatchNorm(new TinyModel(13).In("x", F, [2, 3, 6, 6]), "x", "n").Op("Relu", ["n"], ["y"]).Out("y", F);
        using var graph = OnnxGraph.FromProto(model.Proto(), "hooked relu");
        using var fused = new GraphExecutor(graph);
        using var unfused = new GraphExecutor(graph, fuse: false);
        var hook = new NegatingHook();
        Assert.Equal(["Conv+BatchNormalization", "Relu"], fused.PlanFor(["y"], hook).Steps.Select(s => s.OpType));

        using var scope = torch.NewDisposeScope();
        var feeds = model.Feeds().ToDictionary(f => f.Name, ToTorch);
        var hooked = fused.Run(feeds, ["y"], hook)["y"];
        Assert.Equal(1, hook.Calls);
        var reference = unfused.Run(feeds, ["y"], new NegatingHook())["y"];
        Assert.True(hooked.allclose(reference, rtol: 1e-5, atol: 1e-5), "the hooked Relu should see its own output, as unfused");
        Assert.True(hooked.le(torch.zeros_like(hooked)).all().item<bool>(), "the hook should have negated the Relu's output");
    }

    sealed class NegatingHook : INodeHook
    {
        public int Calls { get; private set; }

        public bool Hooks(OnnxNode node) => node.OpType == "Relu";

        public torch.Tensor After(OnnxNode node, IReadOnlyList<torch.Tensor?> inputs, torch.Tensor output)
        {
            Calls++;
            return output.neg();
        }
    }
}
