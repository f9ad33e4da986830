using LoKO.Engine.Lora;
using LoKO.Engine.Onnx;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LoKO.Engine.Tests.Models;

/// <summary>The fused plan of the real MiniLM graph: what it fuses, what it keeps, and the gradients it gives.</summary>
[Collection(ModelCollection.Name)]
public class FusedMiniLmTests(ModelFixture models, ITestOutputHelper output)
{
    [Fact]
    public void EveryLayerNormAndGeluIsFusedAndEveryLoraSiteStaysAStep()
    {
        var model = models.MiniLm;
        // Every graph output, so that the pooler's Gemm (a site too) is part of the plan.
        var plan = model.Executor.PlanFor([.. model.Graph.Outputs.Select(o => o.Name)]);
        output.WriteLine($"{model.Graph.Nodes.Count} graph nodes, {plan.Steps.Length} plan steps");

        // The embeddings' LayerNorm and two per layer; one GELU per layer.
        Assert.Equal(13, plan.Steps.Count(s => s.Fused && s.OpType == "LayerNormalization"));
        Assert.Equal(6, plan.Steps.Count(s => s.Fused && s.OpType == "Gelu"));
        Assert.Equal(13 * 9 + 6 * 5, plan.FusedNodes.Length);
        var unfusedSteps = plan.Steps.Where(s => !s.Fused).Select(s => s.Node).ToHashSet();
        Assert.All(model.Sites, site => Assert.Contains(site.Node, unfusedSteps));
    }

    [Fact]
    public void GradientsThroughTheFusedPlanEqualTheUnfusedOnes()
    {
        using var scope = NewDisposeScope();
        var model = models.MiniLm;
        using var unfused = new GraphExecutor(model.Graph, model.Device, fuse: false);
        using var adapter = model.CreateAdapter(new LoraOptions(), outputs: 3, seed: 9);
        using (no_grad()) adapter.Theta.add_(randn(adapter.Theta.shape[0], generator: new Generator(10)) * 0.01); // B ≠ 0
        // Two texts of different lengths, so padding and the attention mask take part.
        using var inputs = model.Encode(TestInputs.Texts(2));
        var labels = tensor(new long[] { 0, 2 });

        Tensor Gradient(GraphExecutor executor)
        {
            var hidden = executor.Run(inputs.Feeds, [model.Pooling.GraphValue], adapter)[model.Pooling.GraphValue];
            var loss = nn.functional.cross_entropy(adapter.Head(model.Pooling.Pool(hidden, inputs)), labels);
            return autograd.grad([loss], [adapter.Theta])[0];
        }

        Assert.NotEmpty(model.Executor.PlanFor([model.Pooling.GraphValue], adapter).FusedNodes);
        var fused = Gradient(model.Executor);
        var reference = Gradient(unfused);
        double scale = reference.abs().max().ToDouble();
        double diff = (fused - reference).abs().max().ToDouble();
        output.WriteLine($"max |fused − unfused| {diff:E2}, scale {scale:E2}");
        Assert.True(scale > 0);
        Assert.True(diff <= 1e-5 * scale, $"fused and unfused gradients differ by {diff:E2} (scale {scale:E2})");
    }
}
