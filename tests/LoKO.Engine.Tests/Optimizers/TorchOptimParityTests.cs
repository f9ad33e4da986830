using LoKO.Engine.Checkpoints;
using LoKO.Engine.Optimizers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoKO.Engine.Tests.Optimizers;

/// <summary>
/// The baselines' own update rules against TorchSharp's torch.optim on the same gradients: θ and every state tensor
/// must be the same bits after many steps (torch equality, no tolerance), and the state is saved under the names
/// TorchSharp's state carries, so that checkpoints written before the change restore unchanged.
/// </summary>
public class TorchOptimParityTests
{
    const int Steps = 100, Size = 3000;

    static (GradientOptimizer Ours, optim.Optimizer Theirs) Pair(string name, Parameter ours, Parameter theirs) => name switch
    {
        "adamw" => (GradientOptimizer.AdamW(ours, lr: 1e-2), optim.AdamW([theirs], lr: 1e-2, weight_decay: 0.01)),
        "adagrad" => (GradientOptimizer.AdaGrad(ours, lr: 5e-2), optim.Adagrad([theirs], lr: 5e-2)),
        "sgd" => (GradientOptimizer.Sgd(ours, lr: 0.1), optim.SGD([theirs], 0.1)),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    /// <summary>Gradients of mixed scale (some entries exactly zero), float32 like θ.</summary>
    static Tensor Gradient(int step)
    {
        var g = randn(Size, generator: new Generator((ulong)step + 100));
        var scale = rand(Size, generator: new Generator((ulong)step + 1000)).mul(rand(Size, generator: new Generator((ulong)step + 2000)));
        var zeroed = rand(Size, generator: new Generator((ulong)step + 3000)).lt(0.5.ToScalar());
        return g.mul(scale).mul(scale).masked_fill(zeroed.logical_and(g.gt(0.ToScalar())), 0.ToScalar());
    }

    static Parameter Theta() => new(randn(Size, generator: new Generator(7)), requires_grad: true);

    [Theory]
    [InlineData("adamw")]
    [InlineData("adagrad")]
    [InlineData("sgd")]
    public void AHundredStepsGiveTheBitsOfTorchSharpsOptimizer(string name)
    {
        using var scope = NewDisposeScope();
        var ours = Theta();
        var theirs = Theta();
        var start = ours.detach().clone();
        var (optimizer, reference) = Pair(name, ours, theirs);
        using var _ = optimizer;
        using var __ = reference;
        var row = new SharedRow(zeros(1, 2), () => zeros(1, 2));
        var label = tensor(new long[] { 0 });

        for (int step = 0; step < Steps; step++)
        {
            using var stepScope = NewDisposeScope();
            var g = Gradient(step);
            var shared = optimizer.Begin(row, label);
            using (var outcome = shared.Finish(g.clone())) Assert.Equal(StepStatus.Applied, outcome.Status);
            reference.zero_grad();
            theirs.grad = g.clone();
            reference.step();
        }

        Assert.False(SameBits(start, ours.detach()), $"{name}: θ did not move");
        Assert.True(SameBits(theirs.detach(), ours.detach()), $"{name}: θ differs from TorchSharp's by {(theirs - ours).abs().max().item<float>():E2}");
        var saved = SavedState(optimizer);
        var expected = TorchSharpState(((OptimizerHelper)reference).state_dict().State.Single());
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), saved.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, value) in expected)
        {
            Assert.Equal(value.dtype, saved[key].dtype);
            Assert.True(SameBits(value, saved[key]), $"{name}: state '{key}' differs from TorchSharp's");
        }
    }

    /// <summary>The whole step, forward and backward included (zero_grad, accumulation into θ.grad), on a linear model.</summary>
    [Theory]
    [InlineData("adamw")]
    [InlineData("adagrad")]
    public void StepsFromAForwardGiveTheBitsOfTorchSharpsOptimizer(string name)
    {
        using var scope = NewDisposeScope();
        var ours = Theta();
        var theirs = Theta();
        var (optimizer, reference) = Pair(name, ours, theirs);
        using var _ = optimizer;
        using var __ = reference;
        const int classes = 3;
        static Tensor Logits(Tensor theta, Tensor x) => x.matmul(theta.reshape(classes, Size / classes).t());

        for (int step = 0; step < 30; step++)
        {
            using var stepScope = NewDisposeScope();
            var x = randn(4, Size / classes, generator: new Generator((ulong)step + 500));
            var labels = tensor(new long[] { step % classes, (step + 1) % classes, 0, 2 });
            using (var outcome = optimizer.Step(() => Logits(ours, x), labels)) Assert.Equal(StepStatus.Applied, outcome.Status);
            reference.zero_grad();
            nn.functional.cross_entropy(Logits(theirs, x), labels).backward();
            reference.step();
        }

        Assert.True(SameBits(theirs.detach(), ours.detach()), $"{name}: θ differs from TorchSharp's by {(theirs - ours).abs().max().item<float>():E2}");
    }

    /// <summary>Torch equality, and the same sign on every zero: the same bits.</summary>
    static bool SameBits(Tensor a, Tensor b) => a.Equals(b) && a.signbit().Equals(b.signbit());

    static Dictionary<string, Tensor> SavedState(GradientOptimizer optimizer)
    {
        using var file = new MemoryStream();
        optimizer.SaveState(file);
        file.Position = 0;
        var (tensors, _) = SafetensorsCodec.Read(file);
        return tensors.Where(kv => kv.Key.StartsWith("optimizer.", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key["optimizer.".Length..], kv => kv.Value);
    }

    /// <summary>TorchSharp's per-parameter state under PyTorch's names, the form checkpoints have always held.</summary>
    static Dictionary<string, Tensor> TorchSharpState(OptimizerState state) => state switch
    {
        AdamW.State s => new() { ["step"] = tensor(s.step), ["exp_avg"] = s.exp_avg, ["exp_avg_sq"] = s.exp_avg_sq },
        Adagrad.State s => new() { ["step"] = tensor(s.step), ["sum"] = s.sum },
        SGD.State s => s.momentum_buffer is null ? [] : new() { ["momentum_buffer"] = s.momentum_buffer },
        _ => throw new NotSupportedException(state.GetType().FullName),
    };
}
