using LoKO.Engine.Lora;
using Xunit.Abstractions;

namespace LoKO.Engine.Tests.Models;

/// <summary>The fused plan of the real MiniLM graph: what it fuses, and what a hooked plan keeps as it is.</summary>
[Collection(ModelCollection.Name)]
public class FusedMiniLmTests(ModelFixture models, ITestOutputHelper output)
{
    [Fact]
    public void EveryLayerNormGeluAttentionAndLinearIsFusedAndAHookedPlanKeepsEveryLoraSite()
    {
        var model = models.MiniLm;
        // Every graph output, so that the pooler's Gemm (a site too) is part of the plan.
        string[] outputs = [.. model.Graph.Outputs.Select(o => o.Name)];
        var plan = model.Executor.PlanFor(outputs);
        output.WriteLine($"{model.Graph.Nodes.Count} graph nodes, {plan.Steps.Length} plan steps");

        // The embeddings' LayerNorm and two per layer; per layer one GELU, one attention, and the six
        // projections with their biases: query, key and value (one input) as one product, then attention
        // output, intermediate and output.
        Assert.Equal(13, plan.Steps.Count(s => s.Fused && s.OpType == "LayerNormalization"));
        Assert.Equal(6, plan.Steps.Count(s => s.Fused && s.OpType == "Gelu"));
        Assert.Equal(6, plan.Steps.Count(s => s.Fused && s.OpType == "Attention"));
        Assert.Equal(6, plan.Steps.Count(s => s.Fused && s.OpType == "MatMul+Add×3"));
        Assert.Equal(18, plan.Steps.Count(s => s.Fused && s.OpType == "MatMul+Add"));
        Assert.Equal(13 * 9 + 6 * 5 + 6 * 5 + 36 * 2, plan.FusedNodes.Length);

        // Sites are the graph's, found by name as before; hooking them all keeps each one a step of its own.
        Assert.Contains(model.Sites, s => s.Name == "encoder.layer.0.attention.self.query" && s.Node.OpType == "MatMul");
        using var adapter = model.CreateAdapter(new LoraOptions { Targets = ["*"] }, outputs: 2, seed: 3);
        Assert.Equal(model.Sites.Count, adapter.Layout.Sites.Count);
        var hooked = model.Executor.PlanFor(outputs, adapter);
        var unfusedSteps = hooked.Steps.Where(s => !s.Fused).Select(s => s.Node).ToHashSet();
        Assert.All(model.Sites, site => Assert.Contains(site.Node, unfusedSteps));
        Assert.DoesNotContain(hooked.FusedNodes, adapter.Hooks);
        // Only the linear fusions held sites: every other pattern stays fused around them.
        Assert.Equal(0, hooked.Steps.Count(s => s.OpType.StartsWith("MatMul+Add", StringComparison.Ordinal)));
        Assert.Equal(13, hooked.Steps.Count(s => s.Fused && s.OpType == "LayerNormalization"));
        Assert.Equal(6, hooked.Steps.Count(s => s.Fused && s.OpType == "Attention"));
    }
}
