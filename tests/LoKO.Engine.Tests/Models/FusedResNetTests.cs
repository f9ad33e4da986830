using LoKO.Engine.Lora;
using Xunit.Abstractions;

namespace LoKO.Engine.Tests.Models;

/// <summary>The fused plan of the real ResNet18 graph: every frozen Conv folds its BatchNorm; a LoRA site's does not.</summary>
[Collection(ModelCollection.Name)]
public class FusedResNetTests(ModelFixture models, ITestOutputHelper output)
{
    [Fact]
    public void EveryConvFoldsItsBatchNormUnlessItIsAHookedSite()
    {
        var model = models.ResNet18;
        string[] outputs = [model.Pooling.GraphValue];
        var plan = model.Executor.PlanFor(outputs);
        int convs = plan.Steps.Count(s => Folded(s.OpType));
        output.WriteLine($"{model.Graph.Nodes.Count} graph nodes, {plan.Steps.Length} plan steps, {convs} folded convs");
        Assert.Equal(model.Graph.Nodes.Count(n => n.OpType == "Conv"), convs);
        Assert.DoesNotContain(plan.Steps, s => s.OpType is "Conv" or "BatchNormalization");

        using var adapter = model.CreateAdapter(new LoraOptions(), outputs: 2, seed: 3);
        var sites = adapter.Layout.Sites;
        Assert.NotEmpty(sites);
        Assert.All(sites, s => Assert.Equal(LoraSiteKind.Conv, s.Kind));
        var hooked = model.Executor.PlanFor(outputs, adapter);
        var plainConvs = hooked.Steps.Where(s => s.OpType == "Conv").Select(s => s.Node).ToList();
        Assert.Equal(sites.Select(s => s.Node).OrderBy(n => n.Index), plainConvs.OrderBy(n => n.Index));
        Assert.Equal(sites.Count, hooked.Steps.Count(s => s.OpType == "BatchNormalization"));
        Assert.Equal(convs - sites.Count, hooked.Steps.Count(s => Folded(s.OpType)));
    }

    // A Relu that alone reads the norm is taken into the fold.
    static bool Folded(string op) => op is "Conv+BatchNormalization" or "Conv+BatchNormalization+Relu";
}
