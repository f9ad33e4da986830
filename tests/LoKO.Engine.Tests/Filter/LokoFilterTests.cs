using LoKO.Engine.Filter;
using LoKO.Engine.Optimizers;
using static TorchSharp.torch;

namespace LoKO.Engine.Tests.Filter;

public class LokoFilterTests
{
    static readonly LokoOptions Options = new()
    {
        P0 = InitialCovariance.Auto, R0 = 0.1, Beta = 0.9, Q = 1e-6, PMin = 1e-9, Jitter = 1e-9,
        Guard = new GuardOptions { Enabled = false },
    };

    [Fact]
    public void FiftyStepsAgreeWithAnIndependentDoublePrecisionImplementation()
    {
        var model = new TinyMlp(classes: 3);
        var stream = TinyMlp.Stream(3, 50, seed: 1);
        using var theta = model.NewTheta(seed: 2);
        var reference = new ReferenceFilter(model, theta.data<double>().ToArray(), Options.R0, Options.Beta, Options.Q, Options.PMin, Options.Jitter);
        using var filter = new LokoFilter(theta, Options);

        foreach (var (x, label) in stream)
        {
            using var outcome = filter.Step(() => model.Forward(theta, x), tensor(new long[] { label }));
            Assert.Equal(StepStatus.Applied, outcome.Status);
            reference.Step(x, label);
        }

        AssertClose(reference.Theta, theta.data<double>().ToArray(), "θ");
        AssertClose(reference.P!, filter.State.P!.data<double>().ToArray(), "p");
        AssertClose(reference.R!.Cast<double>().ToArray(), filter.State.R!.data<double>().ToArray(), "R");
        // The run must have moved things, or agreement proves nothing.
        Assert.True(reference.P!.Average() < 0.99 * (filter.State.P!.max().item<double>() + 1));
        Assert.NotEqual(model.NewTheta(seed: 2).data<double>().ToArray(), theta.data<double>().ToArray());
    }

    static void AssertClose(double[] expected, double[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = Math.Max(1e-12, expected.Max(Math.Abs));
        double worst = expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second)) / scale;
        Assert.True(worst <= 1e-5, $"{what}: relative max |diff| {worst:E2}");
    }
}
