using LoKO.Engine.Lora;
using LoKO.Engine.Models;
using LoKO.Engine.Onnx;
using LoKO.Engine.Presets;
using static TorchSharp.torch;

namespace LoKO.Engine.Tests.Models;

[Collection(ModelCollection.Name)]
public class AdapterTests(ModelFixture models)
{
    public static TheoryData<string> Presets => [ModelPresets.MiniLmL6, ModelPresets.ResNet18];

    BaseModel Model(string preset) => preset == ModelPresets.MiniLmL6 ? models.MiniLm : models.ResNet18;

    IReadOnlyList<ModelInput> Inputs(string preset) =>
        preset == ModelPresets.MiniLmL6 ? TestInputs.Texts(3) : TestInputs.Images(3);

    [Theory, MemberData(nameof(Presets))]
    public void AdapterWithZeroBLeavesTheBaseOutputUnchanged(string preset)
    {
        using var scope = NewDisposeScope();
        var model = Model(preset);
        using var adapter = model.CreateAdapter(new LoraOptions(), outputs: 4, seed: 1);
        using var inputs = model.Encode(Inputs(preset));
        var withAdapter = model.Features(inputs, adapter);
        var baseOnly = BaseThroughTheSamePlan(model, inputs, adapter);
        Assert.Equal(0.0, (withAdapter - baseOnly).abs().max().item<float>(), 6);

        // A's initialisation is not zero, so the equality above rests on B = 0; a non-zero B must move the features.
        SetB(adapter, 0.01);
        var moved = model.Features(inputs, adapter);
        Assert.True((moved - baseOnly).abs().max().item<float>() > 1e-4);
    }

    /// <summary>op(x, W) + s·B(A(x)) must equal the same graph with W replaced by W + s·BA, materialised.</summary>
    [Theory, MemberData(nameof(Presets))]
    public void LowRankUpdateEqualsTheMergedWeight(string preset)
    {
        using var scope = NewDisposeScope();
        var model = Model(preset);
        using var adapter = model.CreateAdapter(new LoraOptions { Rank = 4, Alpha = 8 }, outputs: 3, seed: 2);
        SetB(adapter, 0.05);
        using var inputs = model.Encode(Inputs(preset));
        var hooked = model.Features(inputs, adapter);

        using var merged = preset == ModelPresets.MiniLmL6
            ? OnnxGraph.Load(ModelAssets.OpenMiniLmModel(), "merged")
            : OnnxGraph.Load(ModelAssets.ResNet18Path, "merged");
        using (no_grad())
        {
            foreach (var site in adapter.Layout.Sites)
            {
                var (aSeg, bSeg) = adapter.Layout.Site(site.Name);
                var a = adapter.View(aSeg).reshape(adapter.Layout.Rank, -1);
                var b = adapter.View(bSeg).reshape(site.OutFeatures, adapter.Layout.Rank);
                var delta = matmul(b, a) * adapter.Layout.Scale;             // [out, fan-in]
                var w = merged.Initializers[site.WeightName];
                w.add_(site.Kind == LoraSiteKind.Conv ? delta.reshape(w.shape) : delta.t()); // MatMul weights are [in, out]
            }
        }
        using var executor = new GraphExecutor(merged);
        if (preset == ModelPresets.ResNet18) executor.RelaxInputDims(merged.Inputs[0].Name, 0, 2, 3);
        var value = executor.Run(inputs.Feeds, [model.Pooling.GraphValue])[model.Pooling.GraphValue];
        var expected = model.Pooling.Pool(value, inputs);

        double scale = expected.abs().max().item<float>();
        Assert.True((hooked - expected).abs().max().item<float>() <= 1e-4 * scale,
            $"hooked and merged differ by {(hooked - expected).abs().max().item<float>()} (scale {scale})");
    }

    [Theory, MemberData(nameof(Presets))]
    public void GradientsReachOnlyTheta(string preset)
    {
        using var scope = NewDisposeScope();
        var model = Model(preset);
        using var adapter = model.CreateAdapter(new LoraOptions(), outputs: 3, seed: 3);
        using var inputs = model.Encode(Inputs(preset));
        var logits = model.Forward(inputs, adapter);
        var loss = nn.functional.cross_entropy(logits, tensor(new long[] { 0, 1, 2 }));
        var grads = autograd.grad([loss], [adapter.Theta], allow_unused: true);

        Assert.All(model.Graph.Initializers.Values, w => Assert.False(w.requires_grad));
        var g = grads[0];
        Assert.Equal(adapter.Theta.shape, g.shape);
        Assert.True(g.isfinite().all().item<bool>());
        var layout = adapter.Layout;
        Assert.True(Segment(g, layout.HeadWeight).abs().sum().item<float>() > 0);
        // B = 0 at the start, so A gets no gradient yet while B does.
        var (a, b) = layout.Site(layout.Sites[^1].Name);
        Assert.Equal(0f, Segment(g, a).abs().sum().item<float>());
        Assert.True(Segment(g, b).abs().sum().item<float>() > 0);
    }

    /// <summary>
    /// The base features through the plan the adapter runs (its sites kept out of fused steps, so a folded
    /// conv or fused linear does not round differently), with every site's output passed on unchanged.
    /// </summary>
    static Tensor BaseThroughTheSamePlan(BaseModel model, EncodedInputs inputs, TenantAdapter adapter)
    {
        var value = model.Executor.Run(inputs.Feeds, [model.Pooling.GraphValue], new PassThrough(adapter))[model.Pooling.GraphValue];
        return model.Pooling.Pool(value, inputs);
    }

    sealed class PassThrough(INodeHook sites) : INodeHook
    {
        public bool Hooks(OnnxNode node) => sites.Hooks(node);

        public Tensor After(OnnxNode node, IReadOnlyList<Tensor?> inputs, Tensor output) => output;
    }

    static Tensor Segment(Tensor flat, AdapterSegment s) => flat.narrow(0, s.Offset, s.Length);

    static void SetB(TenantAdapter adapter, double std)
    {
        using var _ = no_grad();
        var generator = new Generator(99);
        foreach (var site in adapter.Layout.Sites)
        {
            var b = adapter.Layout.Site(site.Name).B;
            adapter.Theta.narrow(0, b.Offset, b.Length).copy_(randn(b.Length, generator: generator) * std);
        }
    }
}
