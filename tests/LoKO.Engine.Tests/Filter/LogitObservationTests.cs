using LoKO.Engine.Filter;
using LoKO.Engine.Optimizers;
using static TorchSharp.torch;

namespace LoKO.Engine.Tests.Filter;

/// <summary>Every option of the logit observation against <see cref="ReferenceLogitFilter"/>, and the paper's filter kept as it was.</summary>
public class LogitObservationTests
{
    static readonly LokoOptions Logits = new()
    {
        Observation = ObservationSpace.Logits, PMin = 1e-12, Guard = new GuardOptions { Enabled = false },
    };

    public static TheoryData<string> Variants => new(
        "jacobian", "shared-head", "precision-reverting", "prior-examples", "gradient-precision", "gradient-covariance", "robust-temperature",
        "gradient-posterior", "root-posterior", "robust-root-prior", "robust-root");

    static LokoOptions Variant(string name) => name switch
    {
        "jacobian" => Logits,
        "shared-head" => Logits with { Head = HeadCovariance.Shared, HeadPriorVariance = 2 },
        "precision-reverting" => Logits with { Head = HeadCovariance.Shared, DiagonalForm = DiagonalForm.Precision, Reversion = 0.95, HeadReversion = 0.9 },
        "prior-examples" => Logits with { PriorExamples = 6, DiagonalPriorVariance = 0.5 },
        "gradient-precision" => Logits with { Head = HeadCovariance.Shared, DiagonalObservation = DiagonalObservation.Gradient, DiagonalForm = DiagonalForm.Precision, Reversion = 0.99 },
        "gradient-covariance" => Logits with { Head = HeadCovariance.Shared, DiagonalObservation = DiagonalObservation.Gradient, PriorExamples = 4 },
        "robust-temperature" => Logits with { Head = HeadCovariance.Shared, RobustScale = 1.5, TemperatureBeta = 0.9, Temperature = 0.5 },
        "gradient-posterior" => Logits with { Head = HeadCovariance.Shared, DiagonalObservation = DiagonalObservation.Gradient, DiagonalForm = DiagonalForm.Precision, DiagonalMean = DiagonalMean.Posterior },
        "root-posterior" => Logits with
        {
            Head = HeadCovariance.Shared, DiagonalObservation = DiagonalObservation.Gradient, DiagonalForm = DiagonalForm.RootPrecision,
            DiagonalMean = DiagonalMean.Posterior, RootScale = 0.05, DiagonalPriorVariance = 1e6, PriorExamples = 3,
        },
        // natural-robust's and the default's (natural-root-robust-v10) combination, c small enough that the weight matters in every step
        "robust-root-prior" => Logits with
        {
            Head = HeadCovariance.Shared, DiagonalObservation = DiagonalObservation.Gradient, DiagonalForm = DiagonalForm.RootPrecision,
            DiagonalMean = DiagonalMean.Posterior, RootScale = 0.05, DiagonalPriorVariance = 0.3, PriorExamples = 3, RobustScale = 1.5,
        },
        // natural-root-robust's combination: no effective LoRA prior
        "robust-root" => Logits with
        {
            Head = HeadCovariance.Shared, DiagonalObservation = DiagonalObservation.Gradient, DiagonalForm = DiagonalForm.RootPrecision,
            DiagonalMean = DiagonalMean.Posterior, RootScale = 0.05, DiagonalPriorVariance = 1e6, PriorExamples = 3, RobustScale = 1.5,
        },
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void FortyStepsAgreeWithAnIndependentDoublePrecisionImplementation(string variant)
    {
        var options = Variant(variant);
        var model = new TinyMlp(classes: 4);
        using var theta = model.NewTheta(seed: 3);
        var start = theta.data<double>().ToArray();
        var reference = new ReferenceLogitFilter(model, start, options);
        using var filter = new LokoFilter(theta, options, head: model.Head);
        foreach (var (x, label) in TinyMlp.Stream(4, 40, seed: 2))
        {
            using var outcome = filter.Step(model.Pass(theta, x), tensor(new long[] { label }));
            Assert.Equal(StepStatus.Applied, outcome.Status);
            reference.Step(x, label);
        }
        AssertClose(reference.Theta, theta.data<double>().ToArray(), "θ");
        AssertClose(reference.P!, filter.State.P!.data<double>().ToArray(), "p");
        if (reference.Sigma is { } sigma) AssertClose(sigma.Cast<double>().ToArray(), filter.State.Sigma!.data<double>().ToArray(), "Σ");
        Assert.Equal(reference.Tau, filter.State.R![0, 0].item<double>(), 9);
        // Something moved, or agreement proves nothing.
        Assert.True(start.Zip(reference.Theta).Max(q => Math.Abs(q.First - q.Second)) > 1e-3);
    }

    static void AssertClose(double[] expected, double[] actual, string what, double tolerance = 1e-7)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = Math.Max(1e-12, expected.Max(Math.Abs));
        double worst = expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second)) / scale;
        Assert.True(worst <= tolerance, $"{what}: relative max |diff| {worst:E2}");
    }

    [Fact]
    public void ThePaperVariantIsTheFilterAsFirstShipped()
    {
        Assert.Equal(new LokoOptions(), LokoOptions.Paper);
        Assert.Equal(LokoOptions.Paper, LokoVariants.Named("paper"));
        Assert.Equal(ObservationSpace.Probabilities, LokoOptions.Paper.Observation);
        // Its settings as first shipped: auto P₀, r₀ 0.1, β 0.99, full R, linearised residual, no process noise.
        var p = LokoOptions.Paper;
        Assert.Equal((InitialCovariance.Auto, 0.1, 0.99, NoiseStructure.Full, ResidualMode.Linearised, 0.0, 1.0),
                     (p.P0, p.R0, p.Beta, p.Noise, p.Residual, p.Q, p.Forgetting));

        var model = new TinyMlp(classes: 3);
        using var theta = model.NewTheta(seed: 2);
        var reference = new ReferenceFilter(model, theta.data<double>().ToArray(), p.R0, p.Beta, p.Q, p.PMin, p.Jitter);
        using var filter = new LokoFilter(theta, p with { Guard = new GuardOptions { Enabled = false } });
        foreach (var (x, label) in TinyMlp.Stream(3, 30, seed: 1))
        {
            using var outcome = filter.Step(() => model.Forward(theta, x), tensor(new long[] { label }));
            reference.Step(x, label);
        }
        AssertClose(reference.Theta, theta.data<double>().ToArray(), "θ", 1e-5);
        AssertClose(reference.P!, filter.State.P!.data<double>().ToArray(), "p", 1e-5);
    }

    [Fact]
    public void TheSharedHeadNeedsNoHeadEntriesInTheDiagonalAndSurvivesSaveLoad()
    {
        var options = Variant("gradient-precision");
        var model = new TinyMlp(classes: 3);
        var stream = TinyMlp.Stream(3, 30, seed: 5);
        using var theta = model.NewTheta(seed: 4);
        using var filter = new LokoFilter(theta, options, head: model.Head);
        foreach (var (x, label) in stream.Take(15)) filter.Step(model.Pass(theta, x), tensor(new long[] { label })).Dispose();
        var head = model.Head;
        Assert.Equal(0, filter.State.P!.narrow(0, head.WeightOffset, model.N - head.WeightOffset).abs().max().item<double>());

        using var saved = new MemoryStream();
        filter.State.Save(saved);
        saved.Position = 0;
        using var theta2 = model.NewTheta(seed: 9);
        using var resumed = new LokoFilter(theta2, options, state: KalmanState.Load(saved, theta2), head: model.Head);
        foreach (var (x, label) in stream.Skip(15))
        {
            filter.Step(model.Pass(theta, x), tensor(new long[] { label })).Dispose();
            resumed.Step(model.Pass(theta2, x), tensor(new long[] { label })).Dispose();
        }
        AssertClose(theta.data<double>().ToArray(), theta2.data<double>().ToArray(), "θ after resuming", 1e-12);
        AssertClose(filter.State.Sigma!.data<double>().ToArray(), resumed.State.Sigma!.data<double>().ToArray(), "Σ after resuming", 1e-12);
    }
}
