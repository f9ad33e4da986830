using LoKO.Engine.Checkpoints;
using LoKO.Engine.Optimizers;
using LoKO.Engine.Tests.Filter;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoKO.Engine.Tests.Optimizers;

public class GradientOptimizerStateTests
{
    const int Steps = 20, SaveAt = 10;

    static GradientOptimizer Create(string name, Parameter theta) => name switch
    {
        "adamw" => GradientOptimizer.AdamW(theta, lr: 1e-2),
        "adagrad" => GradientOptimizer.AdaGrad(theta, lr: 1e-2),
        "sgd" => GradientOptimizer.Sgd(theta, lr: 1e-2),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    static void Run(GradientOptimizer optimizer, TinyMlp model, Parameter theta, IEnumerable<(double[] X, int Label)> stream)
    {
        foreach (var (x, label) in stream)
        {
            using var outcome = optimizer.Step(() => model.Forward(theta, x), tensor(new long[] { label }));
            Assert.Equal(StepStatus.Applied, outcome.Status);
        }
    }

    [Theory]
    [InlineData("adamw")]
    [InlineData("adagrad")]
    [InlineData("sgd")]
    public void SavedMidRunAndLoadedIntoAFreshOptimizerTheRunContinuesAsIfUninterrupted(string name)
    {
        var model = new TinyMlp(classes: 3);
        var stream = TinyMlp.Stream(3, Steps, seed: 3);

        using var straight = model.NewTheta(seed: 4);
        using (var optimizer = Create(name, straight)) Run(optimizer, model, straight, stream);

        using var first = model.NewTheta(seed: 4);
        using var saved = new MemoryStream();
        using (var optimizer = Create(name, first))
        {
            Run(optimizer, model, first, stream.Take(SaveAt));
            optimizer.SaveState(saved);
        }

        // A fresh θ (other values) and a fresh optimizer: everything must come from the file.
        using var resumed = model.NewTheta(seed: 99);
        using (var optimizer = Create(name, resumed))
        {
            saved.Position = 0;
            optimizer.LoadState(saved);
            Run(optimizer, model, resumed, stream.Skip(SaveAt));
        }

        double worst = MaxAbsDiff(straight, resumed);
        Assert.True(worst <= 1e-6, $"{name}: θ after save/load differs from the uninterrupted run by {worst:E2}");
        Assert.NotEqual(model.NewTheta(seed: 4).data<double>().ToArray(), straight.data<double>().ToArray());

        if (name == "sgd") return; // no state: nothing more to show
        // With θ alone (fresh moments) the run goes elsewhere, so the state in the file is what made the difference.
        using var thetaOnly = model.NewTheta(seed: 99);
        using (var optimizer = Create(name, thetaOnly))
        {
            saved.Position = 0;
            var (tensors, _) = SafetensorsCodec.Read(saved);
            using (no_grad()) thetaOnly.copy_(tensors["theta"]);
            Assert.Contains(tensors.Keys, k => k.StartsWith("optimizer.", StringComparison.Ordinal));
            foreach (var t in tensors.Values) t.Dispose();
            Run(optimizer, model, thetaOnly, stream.Skip(SaveAt));
        }
        Assert.True(MaxAbsDiff(straight, thetaOnly) > 1e-5, $"{name}: restarting with fresh state changed nothing");
    }

    [Fact]
    public void AdamWStateIsSavedUnderPyTorchNames()
    {
        var model = new TinyMlp(classes: 2);
        using var theta = model.NewTheta(seed: 1);
        using var optimizer = GradientOptimizer.AdamW(theta, lr: 1e-2);
        Run(optimizer, model, theta, TinyMlp.Stream(2, 3, seed: 1));
        using var file = new MemoryStream();
        optimizer.SaveState(file);
        file.Position = 0;
        var (tensors, meta) = SafetensorsCodec.Read(file);
        Assert.Equal("adamw", meta["optimizer"]);
        Assert.Equal(["optimizer.exp_avg", "optimizer.exp_avg_sq", "optimizer.step", "theta"], tensors.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(3, tensors["optimizer.step"].item<long>());
        Assert.Equal(theta.shape, tensors["optimizer.exp_avg"].shape);
        foreach (var t in tensors.Values) t.Dispose();
    }

    [Fact]
    public void LoadingAnotherOptimizersStateFails()
    {
        var model = new TinyMlp(classes: 2);
        using var theta = model.NewTheta(seed: 1);
        using var file = new MemoryStream();
        using (var adamw = GradientOptimizer.AdamW(theta, lr: 1e-2)) adamw.SaveState(file);
        using var adagrad = GradientOptimizer.AdaGrad(theta, lr: 1e-2);
        file.Position = 0;
        var error = Assert.Throws<InvalidDataException>(() => adagrad.LoadState(file));
        Assert.Contains("adamw", error.Message);
    }

    static double MaxAbsDiff(Tensor a, Tensor b) => (a - b).abs().max().item<double>();

    /// <summary>The linear probe: with the head as the trainable mask, every other entry of θ stays as it was and the head learns.</summary>
    [Theory]
    [InlineData("adamw")]
    [InlineData("adagrad")]
    [InlineData("sgd")]
    public void OnlyWhereLearnsTheMaskedEntriesAlone(string name)
    {
        var model = new TinyMlp(classes: 3);
        using var theta = model.NewTheta(seed: 5);
        using var before = theta.detach().clone();
        using var outside = model.Head.OutsideMask(theta.detach());
        using var head = 1 - outside;
        using (var optimizer = Create(name, theta).OnlyWhere(head)) Run(optimizer, model, theta, TinyMlp.Stream(3, Steps, seed: 6));

        using var change = (theta.detach() - before).abs();
        Assert.Equal(0.0, (change * outside).max().item<double>());
        Assert.True((change * head).max().item<double>() > 1e-4, $"{name}: the head did not learn");
    }
}
