using LoKO.Engine.Checkpoints;
using LoKO.Engine.Filter;
using LoKO.Engine.Optimizers;
using LoKO.Engine.Tests.Filter;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoKO.Engine.Tests.Optimizers;

/// <summary>
/// Classes added to a live head: every optimizer carries what it learned over bit for bit, starts the new entries as
/// a new tenant's would, leaves the old classes' logits as they were, and learns a new class afterwards.
/// </summary>
public class ClassGrowthTests
{
    const int Before = 3, Added = 2, After = Before + Added, Learned = 40;
    static readonly TinyMlp Narrow = new(Before), Wide = new(After);

    /// <summary>θ widened as the adapter widens it: new rows uniform in ±1/√d from a seed.</summary>
    static (Parameter Theta, ClassGrowth Growth) Widen(Tensor theta)
    {
        var growth = new ClassGrowth(Narrow.Head, Added);
        var generator = new TorchSharp.torch.Generator(7);
        double bound = 1 / Math.Sqrt(TinyMlp.Hidden);
        var w = rand(Added * TinyMlp.Hidden, ScalarType.Float64, generator: generator) * (2 * bound) - bound;
        var b = rand(Added, ScalarType.Float64, generator: generator) * (2 * bound) - bound;
        return (new Parameter(growth.Widen(theta.detach(), w, b), requires_grad: true), growth);
    }

    static void Learn(IOnlineOptimizer optimizer, TinyMlp model, Tensor theta, IEnumerable<(double[] X, int Label)> stream)
    {
        foreach (var (x, label) in stream)
        {
            using var outcome = optimizer.Step(model.Pass(theta, x), tensor(new long[] { label }));
            Assert.NotEqual(StepStatus.Rejected, outcome.Status);
        }
    }

    static double[] Values(Tensor t) => t.detach().to(ScalarType.Float64).cpu().data<double>().ToArray();

    /// <summary>The old entries of a widened vector, in the old layout: θ's prefix and W's rows, then b's entries.</summary>
    static double[] OldEntries(Tensor widened, ClassGrowth g) =>
        [.. Values(widened.narrow(0, 0, g.Before.BiasOffset)), .. Values(widened.narrow(0, g.After.BiasOffset, Before))];

    static void AssertOldLogitsUnchanged(Tensor narrowTheta, Tensor wideTheta)
    {
        using var _ = no_grad();
        foreach (var (x, _) in TinyMlp.Stream(After, 30, seed: 11))
        {
            var before = Values(Narrow.Forward(narrowTheta, x));
            var after = Values(Wide.Forward(wideTheta, x));
            for (int c = 0; c < Before; c++) Assert.True(Math.Abs(before[c] - after[c]) <= 1e-6, $"logit {c}: {before[c]} → {after[c]}");
        }
    }

    /// <summary>After growth: examples of a new class are applied, and its probability on them rises.</summary>
    static void AssertLearnsNewClass(IOnlineOptimizer grown, Tensor theta)
    {
        var newClass = TinyMlp.Stream(After, 400, seed: 12).Where(e => e.Label == Before).Take(30).ToList();
        double Mean() { using var _ = no_grad(); return newClass.Average(e => Values(Wide.Forward(theta, e.X).softmax(1))[Before]); }
        double before = Mean();
        Learn(grown, Wide, theta, TinyMlp.Stream(After, 300, seed: 13).Where(e => e.Label >= Before - 1).Take(60));
        double after = Mean();
        Assert.True(after > before + 0.05, $"p(new class) on its examples {before:F3} → {after:F3}");
    }

    [Fact]
    public void TheNaturalFilterKeepsEverythingLearnedAndStartsTheNewRowsInTheSharedHead()
    {
        using var theta = Narrow.NewTheta(seed: 2);
        using var filter = new LokoFilter(theta, LokoVariants.Named(LokoVariants.Natural), head: Narrow.Head);
        Learn(filter, Narrow, theta, TinyMlp.Stream(Before, Learned, seed: 1));
        var (wide, growth) = Widen(theta);
        using var _ = wide;
        using var grown = (LokoFilter)filter.WithClasses(wide, growth);

        Assert.Equal(Values(theta), OldEntries(wide, growth));
        Assert.Equal(Values(filter.State.P!), OldEntries(grown.State.P!, growth));
        var (pw, pb) = growth.NewEntries(grown.State.P!);
        Assert.All(Values(pw).Concat(Values(pb)), v => Assert.Equal(0.0, v)); // a shared head's rows are outside the diagonal block
        Assert.Equal(Values(filter.State.Sigma!), Values(grown.State.Sigma!));
        double tau = filter.State.R![0, 0].item<double>();
        Assert.Equal(Values(eye(After, dtype: ScalarType.Float64) * tau), Values(grown.State.R!));
        Assert.Equal(filter.State.PriorScale, grown.State.PriorScale);
        AssertOldLogitsUnchanged(theta, wide);
        AssertLearnsNewClass(grown, wide);
    }

    [Theory]
    [InlineData(InitialCovariance.Auto)]
    [InlineData(InitialCovariance.AutoNormalised)]
    [InlineData(InitialCovariance.Constant)]
    public void ThePapersFilterStartsNewEntriesAtTheirPriorAndNewNoiseAtR0(InitialCovariance p0)
    {
        var options = LokoOptions.Paper with { P0 = p0, Beta = 0.9 };
        using var theta = Narrow.NewTheta(seed: 3);
        using var filter = new LokoFilter(theta, options, head: Narrow.Head);
        Learn(filter, Narrow, theta, TinyMlp.Stream(Before, Learned, seed: 1));
        var prior = Values(filter.State.HeadPrior!);
        var (wide, growth) = Widen(theta);
        using var _ = wide;
        using var grown = (LokoFilter)filter.WithClasses(wide, growth);

        Assert.Equal(Values(theta), OldEntries(wide, growth));
        Assert.Equal(Values(filter.State.P!), OldEntries(grown.State.P!, growth));
        var (pw, pb) = growth.NewEntries(grown.State.P!);
        Assert.Equal(Enumerable.Range(0, Added).SelectMany(_ => prior[..TinyMlp.Hidden]), Values(pw));
        Assert.All(Values(pb), v => Assert.Equal(prior[^1], v));
        if (p0 == InitialCovariance.Constant) Assert.All(prior, v => Assert.Equal(options.P0Constant, v));
        // The head's p has shrunk where examples were seen: the new rows learn with the prior's full gain.
        Assert.True(prior.Sum() > Values(filter.State.P!.narrow(0, Narrow.Head.WeightOffset, Before * TinyMlp.Hidden)).Sum() / Before);

        var r = grown.State.R!;
        Assert.Equal(Values(filter.State.R!), Values(r.narrow(0, 0, Before).narrow(1, 0, Before)));
        Assert.Equal(Values(eye(Added, dtype: ScalarType.Float64) * options.R0), Values(r.narrow(0, Before, Added).narrow(1, Before, Added)));
        Assert.All(Values(r.narrow(0, 0, Before).narrow(1, Before, Added)), v => Assert.Equal(0.0, v));
        Assert.Equal(filter.State.Steps, grown.State.Steps);
        AssertOldLogitsUnchanged(theta, wide);
        AssertLearnsNewClass(grown, wide);
    }

    [Fact]
    public void AGrownFiltersStateSavesAndLoadsAndTheGuardsBestStateGrewWithIt()
    {
        using var theta = Narrow.NewTheta(seed: 4);
        var options = LokoVariants.Named(LokoVariants.Natural) with { Guard = new GuardOptions { Window = 5 } };
        using var filter = new LokoFilter(theta, options, head: Narrow.Head);
        Learn(filter, Narrow, theta, TinyMlp.Stream(Before, Learned, seed: 1));
        var (wide, growth) = Widen(theta);
        using var _ = wide;
        using var grown = (LokoFilter)filter.WithClasses(wide, growth);
        Learn(grown, Wide, wide, TinyMlp.Stream(After, 20, seed: 5));

        using var file = new MemoryStream();
        grown.State.Save(file);
        file.Position = 0;
        var (tensors, _) = SafetensorsCodec.Read(file);
        Assert.Equal(growth.SizeAfter, tensors["guard.theta"].shape[0]);
        Assert.Equal(After, tensors["guard.r"].shape[0]);
        foreach (var t in tensors.Values) t.Dispose();
        file.Position = 0;
        using var other = Wide.NewTheta(seed: 9);
        using var loaded = KalmanState.Load(file, other);
        Assert.Equal(Values(wide), Values(other));
        Assert.Equal(Values(grown.State.P!), Values(loaded.P!));
    }

    [Fact]
    public void ABoundedWarmUpStillGatheringIsCompletedBeforeTheGrowth()
    {
        var options = LokoOptions.Paper with { P0 = InitialCovariance.Bounded, WarmupExamples = 20 };
        using var theta = Narrow.NewTheta(seed: 6);
        using var filter = new LokoFilter(theta, options, head: Narrow.Head);
        Learn(filter, Narrow, theta, TinyMlp.Stream(Before, 8, seed: 1));
        Assert.Null(filter.State.P);
        using var held = theta.detach().clone();
        var (wide, growth) = Widen(theta);
        using var _ = wide;
        using var grown = (LokoFilter)filter.WithClasses(wide, growth);

        Assert.NotNull(filter.State.P);
        Assert.Equal(8, filter.State.Applied);
        // θ was widened before the held examples were learned: the grown filter starts from the warm-up's result.
        Assert.NotEqual(Values(held), Values(theta));
        Assert.Equal(Values(filter.State.P!), OldEntries(grown.State.P!, growth));
        AssertLearnsNewClass(grown, wide);
    }

    [Theory]
    [InlineData("adamw")]
    [InlineData("adagrad")]
    [InlineData("sgd")]
    public void AGradientBaselineKeepsItsStateAndStartsTheNewEntriesAtZero(string name)
    {
        using var theta = Narrow.NewTheta(seed: 7);
        GradientOptimizer Create(Parameter t) => name switch
        {
            "adamw" => GradientOptimizer.AdamW(t, lr: 1e-2),
            "adagrad" => GradientOptimizer.AdaGrad(t, lr: 5e-2),
            _ => GradientOptimizer.Sgd(t, lr: 0.2),
        };
        using var optimizer = Create(theta);
        Learn(optimizer, Narrow, theta, TinyMlp.Stream(Before, Learned, seed: 1));
        var (wide, growth) = Widen(theta);
        using var _ = wide;
        using var grown = (GradientOptimizer)optimizer.WithClasses(wide, growth);

        var before = State(optimizer);
        var after = State(grown);
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        foreach (var (key, value) in before.Where(kv => kv.Key != "theta"))
        {
            if (value.dim() == 0) { Assert.Equal(Values(value), Values(after[key])); continue; }
            Assert.Equal(Values(value), OldEntries(after[key], growth));
            var (w, b) = growth.NewEntries(after[key]);
            Assert.All(Values(w).Concat(Values(b)), v => Assert.Equal(0.0, v));
        }
        AssertOldLogitsUnchanged(theta, wide);
        AssertLearnsNewClass(grown, wide);
    }

    static Dictionary<string, Tensor> State(GradientOptimizer optimizer)
    {
        using var file = new MemoryStream();
        optimizer.SaveState(file);
        file.Position = 0;
        return SafetensorsCodec.Read(file).Tensors;
    }

    [Fact]
    public void TheGrowthRefusesAHeadThatIsNotTheFilters()
    {
        using var theta = Narrow.NewTheta(seed: 8);
        using var filter = new LokoFilter(theta, LokoVariants.Named(LokoVariants.Natural), head: Narrow.Head);
        var wrong = new ClassGrowth(Narrow.Head with { Features = TinyMlp.Hidden - 1, BiasOffset = Narrow.Head.WeightOffset + Before * (TinyMlp.Hidden - 1) }, 1);
        using var wide = new Parameter(zeros(wrong.SizeAfter, ScalarType.Float64), requires_grad: true);
        Assert.Throws<ArgumentException>(() => filter.WithClasses(wide, wrong));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ClassGrowth(Narrow.Head, 0));
    }
}
