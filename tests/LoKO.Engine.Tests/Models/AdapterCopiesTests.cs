using LoKO.Engine.Filter;
using LoKO.Engine.Lora;
using LoKO.Engine.Models;
using LoKO.Engine.Optimizers;
using LoKO.Engine.Presets;
using TorchSharp;
using static TorchSharp.torch;

namespace LoKO.Engine.Tests.Models;

/// <summary>Per-copy runs (one reverse pass for all Jacobian rows) against the plain forward and sequential passes.</summary>
[Collection(ModelCollection.Name)]
public class AdapterCopiesTests(ModelFixture models)
{
    public static TheoryData<string> Presets => [ModelPresets.MiniLmL6, ModelPresets.ResNet18];

    BaseModel Model(string preset) => preset == ModelPresets.MiniLmL6 ? models.MiniLm : models.ResNet18;

    static ModelInput Input(string preset) =>
        preset == ModelPresets.MiniLmL6 ? TestInputs.Texts(1)[0] : TestInputs.Images(1)[0];

    static void Perturb(TenantAdapter adapter, double std, int seed)
    {
        using var _ = no_grad();
        adapter.Theta.add_(randn(adapter.Theta.shape[0], generator: new Generator((ulong)seed)) * std);
    }

    [Theory, MemberData(nameof(Presets))]
    public void EachCopyComputesTheForwardOfItsOwnRow(string preset)
    {
        using var scope = NewDisposeScope();
        var model = Model(preset);
        using var adapter = model.CreateAdapter(new LoraOptions(), outputs: 3, seed: 5);
        using var inputs = model.Encode([Input(preset)]);
        var baseTheta = adapter.Theta.detach().clone();
        var rows = stack([.. Enumerable.Range(0, 3).Select(k => baseTheta + randn(baseTheta.shape[0], generator: new Generator((ulong)k + 1)) * 0.02f)]);

        Tensor copies;
        using (no_grad()) copies = model.ForwardCopies(inputs, adapter, rows);
        for (int k = 0; k < 3; k++)
        {
            using (no_grad()) adapter.Theta.copy_(rows[k]);
            Tensor single;
            using (no_grad()) single = model.Forward(inputs, adapter)[0];
            double scale = single.abs().max().ToDouble();
            double diff = (copies[k] - single).abs().max().ToDouble();
            Assert.True(diff <= 1e-5 * scale, $"copy {k} differs from its own forward by {diff} (scale {scale})");
        }
    }

    [Theory, MemberData(nameof(Presets))]
    public void OneReversePassOverCopiesGivesTheJacobianRows(string preset)
    {
        using var scope = NewDisposeScope();
        const int classes = 5;
        var model = Model(preset);
        using var adapter = model.CreateAdapter(new LoraOptions(), outputs: classes, seed: 6);
        Perturb(adapter, 0.01, 7); // B ≠ 0, so every LoRA entry has a gradient
        using var inputs = model.Encode([Input(preset)]);

        var yHat = model.Forward(inputs, adapter).softmax(1);
        var sequential = stack([.. Enumerable.Range(0, classes).Select(j =>
            autograd.grad([yHat[0, j]], [adapter.Theta], retain_graph: true, allow_unused: true)[0])]);

        var rows = adapter.Theta.detach().unsqueeze(0).expand(classes, adapter.Theta.shape[0]).clone().requires_grad_(true);
        var copies = model.ForwardCopies(inputs, adapter, rows).softmax(1);
        var batched = autograd.grad([copies.gather(1, arange(classes).unsqueeze(1)).sum()], [rows], allow_unused: true)[0];

        double scale = sequential.abs().max().ToDouble();
        double diff = (batched - sequential).abs().max().ToDouble();
        Assert.True(scale > 0);
        Assert.True(diff <= 1e-5 * scale, $"batched and sequential Jacobians differ by {diff} (scale {scale})");
    }

    [Fact]
    public void FilterStepsWithCopiesMatchSequentialPasses()
    {
        using var scope = NewDisposeScope();
        var model = models.ResNet18;
        Assert.True(model.CopiesPay(model.Layout(new LoraOptions(), 4)), "stage-4 ResNet18 sites should take the per-copy path on a CPU");
        using var a = model.CreateAdapter(new LoraOptions(), outputs: 4, seed: 8);
        using var b = model.CreateAdapter(new LoraOptions(), outputs: 4, seed: 8);
        using var withCopies = new LokoFilter(a.Theta);
        using var sequential = new LokoFilter(b.Theta);
        var digits = TestInputs.MnistDigits(8);
        foreach (var d in digits)
        {
            using var step = NewDisposeScope();
            var input = TestInputs.Image(d);
            var targets = tensor(new long[] { d.Label % 4 });
            var pass = model.Pass([input], a);
            Assert.NotNull(pass.Copies);
            using var o1 = withCopies.Step(pass, targets);
            using var o2 = sequential.Step(() => model.Forward([input], b), targets);
            Assert.Equal(StepStatus.Applied, o1.Status);
            Assert.Equal(StepStatus.Applied, o2.Status);
        }
        AssertClose(withCopies.State.Theta, sequential.State.Theta, "θ");
        AssertClose(withCopies.State.P!, sequential.State.P!, "p");
        AssertClose(withCopies.State.R!, sequential.State.R!, "R");
        Assert.True((withCopies.State.Theta - model.CreateAdapter(new LoraOptions(), 4, 8).Theta).abs().max().ToDouble() > 1e-4, "θ should have moved");
    }

    static void AssertClose(Tensor x, Tensor y, string name)
    {
        double scale = y.abs().max().ToDouble();
        double diff = (x.to(ScalarType.Float64) - y.to(ScalarType.Float64)).abs().max().ToDouble();
        Assert.True(diff <= 1e-4 * scale, $"{name}: per-copy and sequential runs differ by {diff} (scale {scale})");
    }
}
