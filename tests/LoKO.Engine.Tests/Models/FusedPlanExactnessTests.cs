using LoKO.Engine.Lora;
using LoKO.Engine.Models;
using LoKO.Engine.Onnx;
using LoKO.Engine.Presets;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;
using static LoKO.Engine.Tests.Models.PlanRuns;

namespace LoKO.Engine.Tests.Models;

/// <summary>
/// The fused plan against the node-by-node one on the real models, with a tenant's LoRA adapter hooked in:
/// features, gradients w.r.t. θ, and per-copy runs (row k of [K, n] feeding copy k) agree within 1e-5.
/// </summary>
[Collection(ModelCollection.Name)]
public class FusedPlanExactnessTests(ModelFixture models, ITestOutputHelper output)
{
    public static TheoryData<string> Presets => [ModelPresets.MiniLmL6, ModelPresets.ResNet18];

    BaseModel Model(string preset) => preset == ModelPresets.MiniLmL6 ? models.MiniLm : models.ResNet18;

    static TenantAdapter Adapter(BaseModel model)
    {
        var adapter = model.CreateAdapter(new LoraOptions(), outputs: 3, seed: 9);
        using (no_grad()) adapter.Theta.add_(randn(adapter.Theta.shape[0], generator: new Generator(10)) * 0.01); // B ≠ 0
        return adapter;
    }

    [Theory, MemberData(nameof(Presets))]
    public void FeaturesAndGradientsOfTheFusedPlanEqualTheUnfusedOnes(string preset)
    {
        using var scope = NewDisposeScope();
        var model = Model(preset);
        using var unfused = Unfused(model);
        using var adapter = Adapter(model);
        // Two examples; for texts of different lengths, so that padding and the attention mask take part.
        using var inputs = model.Encode(preset == ModelPresets.MiniLmL6 ? TestInputs.Texts(2) : TestInputs.Images(2));
        var labels = tensor(new long[] { 0, 2 });

        (Tensor Features, Tensor Gradient) Run(GraphExecutor executor) => FeaturesAndGradient(model, executor, inputs, adapter, labels);

        Assert.NotEmpty(model.Executor.PlanFor([model.Pooling.GraphValue], adapter).FusedNodes);
        var fused = Run(model.Executor);
        var reference = Run(unfused);
        AssertClose(fused.Features, reference.Features, "features");
        AssertClose(fused.Gradient, reference.Gradient, "gradient w.r.t. θ");
    }

    [Theory, MemberData(nameof(Presets))]
    public void PerCopyRunsOfTheFusedPlanEqualTheUnfusedOnes(string preset)
    {
        using var scope = NewDisposeScope();
        var model = Model(preset);
        using var unfused = Unfused(model);
        using var adapter = Adapter(model);
        using var inputs = model.Encode([preset == ModelPresets.MiniLmL6 ? TestInputs.Texts(1)[0] : TestInputs.Images(1)[0]]);
        var theta = adapter.Theta.detach();
        var rows = stack([.. Enumerable.Range(0, 3).Select(k => theta + randn(theta.shape[0], generator: new Generator((ulong)k + 20)) * 0.02f)]);
        var weights = randn(3, model.FeatureDim, generator: new Generator(30));

        (Tensor Features, Tensor Gradient) Run(GraphExecutor executor)
        {
            var r = rows.clone().requires_grad_(true);
            var value = executor.Run(inputs.Feeds, [model.Pooling.GraphValue], new AdapterCopies(adapter, r))[model.Pooling.GraphValue];
            var features = model.Pooling.Pool(value, inputs);
            features = features.shape[0] == 3 ? features : features.expand(3, features.shape[1]);
            return (features.detach(), autograd.grad([(features * weights).sum()], [r])[0]);
        }

        var fused = Run(model.Executor);
        var reference = Run(unfused);
        AssertClose(fused.Features, reference.Features, "per-copy features");
        AssertClose(fused.Gradient, reference.Gradient, "gradient w.r.t. the rows");
    }

    void AssertClose(Tensor actual, Tensor expected, string what)
    {
        double scale = expected.abs().max().ToDouble();
        double diff = (actual - expected).abs().max().ToDouble();
        output.WriteLine($"{what}: max |fused − unfused| {diff:E2}, scale {scale:E2}");
        Assert.True(scale > 0, $"{what}: the reference is all zero");
        Assert.True(diff <= 1e-5 * scale, $"{what}: fused and unfused differ by {diff:E2} (scale {scale:E2})");
    }
}
