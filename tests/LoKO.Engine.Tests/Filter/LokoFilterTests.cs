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

    static void AssertClose(double[] expected, double[] actual, string what, double tolerance = 1e-5)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = Math.Max(1e-12, expected.Max(Math.Abs));
        double worst = expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second)) / scale;
        Assert.True(worst <= tolerance, $"{what}: relative max |diff| {worst:E2}");
    }

    [Fact]
    public void OnALinearGaussianStreamThetaApproachesLeastSquaresAndPShrinks()
    {
        const int d = 4, count = 400;
        var rng = new Random(5);
        double Gauss() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        double[] w = [0.8, -1.5, 0.3, 2.0];
        var xs = Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, d).Select(_ => Gauss()).ToArray()).ToList();
        var ys = xs.Select(x => x.Zip(w).Sum(p => p.First * p.Second) + 0.1 * Gauss()).ToList();

        using var theta = new TorchSharp.Modules.Parameter(zeros(d, ScalarType.Float64), requires_grad: true);
        using var filter = new LokoFilter(theta, new LokoOptions { P0 = InitialCovariance.Constant, P0Constant = 1.0, R0 = 0.01 }, ObservationKind.Regression);
        double pStart = double.NaN;
        for (int i = 0; i < count; i++)
        {
            var x = tensor(xs[i], ScalarType.Float64);
            using var o = filter.Step(() => matmul(x.unsqueeze(0), theta.unsqueeze(1)), tensor(new[] { ys[i] }, ScalarType.Float64));
            Assert.Equal(StepStatus.Applied, o.Status);
            if (i == 0) pStart = filter.State.P!.mean().item<double>();
        }

        // Least squares on the same stream, by the normal equations.
        var xtx = new double[d, d];
        var xty = new double[d];
        for (int i = 0; i < count; i++)
            for (int a = 0; a < d; a++)
            {
                xty[a] += xs[i][a] * ys[i];
                for (int b = 0; b < d; b++) xtx[a, b] += xs[i][a] * xs[i][b];
            }
        var ls = linalg.solve(tensor(xtx.Cast<double>().ToArray(), [d, d]), tensor(xty)).data<double>().ToArray();
        var est = theta.data<double>().ToArray();
        for (int a = 0; a < d; a++) Assert.True(Math.Abs(est[a] - ls[a]) < 0.02, $"θ[{a}] = {est[a]:F4}, least squares {ls[a]:F4}");
        Assert.True(filter.State.P!.mean().item<double>() < pStart / 100, "p should shrink as evidence accumulates");
    }

    /// <summary>A stream whose true weights flip halfway: fading memory follows the change, plain RLS-like decay does not.</summary>
    [Fact]
    public void ForgettingFollowsAChangeThatAStaticPriorAveragesAway()
    {
        const int d = 3, count = 600;
        var rng = new Random(9);
        double Gauss() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        double[] before = [1.0, -0.5, 2.0], after = [-1.0, 0.5, -2.0];
        var xs = Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, d).Select(_ => Gauss()).ToArray()).ToList();
        var ys = xs.Select((x, i) => x.Zip(i < count / 2 ? before : after).Sum(p => p.First * p.Second) + 0.05 * Gauss()).ToList();

        double ErrorAfter(double lambda, out double pEnd)
        {
            using var theta = new TorchSharp.Modules.Parameter(zeros(d, ScalarType.Float64), requires_grad: true);
            var options = new LokoOptions { P0 = InitialCovariance.Constant, P0Constant = 1.0, R0 = 0.01, Forgetting = lambda, Guard = new GuardOptions { Enabled = false } };
            using var filter = new LokoFilter(theta, options, ObservationKind.Regression);
            for (int i = 0; i < count; i++)
            {
                var x = tensor(xs[i], ScalarType.Float64);
                using var o = filter.Step(() => matmul(x.unsqueeze(0), theta.unsqueeze(1)), tensor(new[] { ys[i] }, ScalarType.Float64));
                Assert.Equal(StepStatus.Applied, o.Status);
            }
            pEnd = filter.State.P!.mean().item<double>();
            return theta.data<double>().ToArray().Zip(after).Max(p => Math.Abs(p.First - p.Second));
        }

        double staticError = ErrorAfter(1.0, out double pStatic);
        double fadingError = ErrorAfter(0.95, out double pFading);
        Assert.True(fadingError < 0.05, $"with λ = 0.95 θ should follow the new weights (max error {fadingError:F4})");
        Assert.True(staticError > 0.5, $"with λ = 1 the old weights should still pull θ away (max error {staticError:F4})");
        Assert.True(pFading > 10 * pStatic, $"fading memory keeps p from collapsing ({pFading:E2} vs {pStatic:E2})");
    }

    [Fact]
    public void ANonFiniteInputIsRejectedAndChangesNothing()
    {
        var model = new TinyMlp(classes: 3);
        var stream = TinyMlp.Stream(3, 10, seed: 1);
        using var theta = model.NewTheta(seed: 2);
        using var filter = new LokoFilter(theta, Options);
        foreach (var (x, label) in stream) filter.Step(() => model.Forward(theta, x), tensor(new long[] { label })).Dispose();

        var thetaBefore = theta.data<double>().ToArray();
        var pBefore = filter.State.P!.data<double>().ToArray();
        var rBefore = filter.State.R!.data<double>().ToArray();
        var bad = (double[])stream[0].X.Clone();
        bad[3] = double.NaN;
        using var outcome = filter.Step(() => model.Forward(theta, bad), tensor(new long[] { 1 }));

        Assert.Equal(StepStatus.Rejected, outcome.Status);
        Assert.Contains("not finite", outcome.Reason);
        Assert.Equal(1, filter.State.Rejected);
        Assert.Equal(thetaBefore, theta.data<double>().ToArray());
        Assert.Equal(pBefore, filter.State.P!.data<double>().ToArray());
        Assert.Equal(rBefore, filter.State.R!.data<double>().ToArray());

        // …and the filter keeps learning afterwards.
        using var next = filter.Step(() => model.Forward(theta, stream[1].X), tensor(new long[] { stream[1].Label }));
        Assert.Equal(StepStatus.Applied, next.Status);
    }

    [Fact]
    public void SaveLoadContinueEqualsAnUninterruptedRun()
    {
        var model = new TinyMlp(classes: 3);
        var stream = TinyMlp.Stream(3, 40, seed: 6);
        // Short guard windows and spans so the guard's windows, spans, best and snapshot are part of the saved state too.
        var options = Options with { Guard = new GuardOptions { Window = 7, DriftWindows = 2, ReferenceWindows = 3 } };

        using var straight = model.NewTheta(seed: 2);
        using var uninterrupted = new LokoFilter(straight, options);
        foreach (var (x, label) in stream) uninterrupted.Step(() => model.Forward(straight, x), tensor(new long[] { label })).Dispose();

        using var first = model.NewTheta(seed: 2);
        var saved = new MemoryStream();
        using (var before = new LokoFilter(first, options))
        {
            foreach (var (x, label) in stream.Take(20)) before.Step(() => model.Forward(first, x), tensor(new long[] { label })).Dispose();
            before.State.Save(saved);
        }
        using var resumedTheta = model.NewTheta(seed: 99); // different values: everything must come from the file
        saved.Position = 0;
        using var resumed = new LokoFilter(resumedTheta, options, state: KalmanState.Load(saved, resumedTheta));
        foreach (var (x, label) in stream.Skip(20)) resumed.Step(() => model.Forward(resumedTheta, x), tensor(new long[] { label })).Dispose();

        // Equal up to summation order (LibTorch's thread count may differ between the two runs).
        AssertClose(straight.data<double>().ToArray(), resumedTheta.data<double>().ToArray(), "θ", 1e-10);
        AssertClose(uninterrupted.State.P!.data<double>().ToArray(), resumed.State.P!.data<double>().ToArray(), "p", 1e-10);
        AssertClose(uninterrupted.State.R!.data<double>().ToArray(), resumed.State.R!.data<double>().ToArray(), "R", 1e-10);
        Assert.Equal(uninterrupted.State.Steps, resumed.State.Steps);
        var (a, b) = (uninterrupted.State.Guard, resumed.State.Guard);
        Assert.True(a.HasBest);
        Assert.Equal((a.BestAccuracy, a.BestExamples, a.History.Count, a.WindowCorrect), (b.BestAccuracy, b.BestExamples, b.History.Count, b.WindowCorrect));
        AssertClose(a.Theta!.data<double>().ToArray(), b.Theta!.data<double>().ToArray(), "the guard's best θ", 1e-10);
    }

    /// <summary>Normalised auto P₀: p_i ∝ 1/max(‖H_{·i}‖, RMS/10), and at the first example trace(G) = k·m·r₀.</summary>
    [Fact]
    public void NormalisedPriorScalesInverselyWithEachColumnNorm()
    {
        var model = new TinyMlp(classes: 3);
        var (x, label) = TinyMlp.Stream(3, 1, seed: 1)[0];
        using var theta = model.NewTheta(seed: 2);
        var options = Options with { P0 = InitialCovariance.AutoNormalised, AutoPriorWeight = 2, Q = 0, Guard = new GuardOptions() };
        using var filter = new LokoFilter(theta, options);
        var start = theta.detach().clone().requires_grad_(true);
        var yHat = model.Forward(start, x).softmax(1);
        var h = stack([.. Enumerable.Range(0, 3).Select(j => autograd.grad([yHat[0, j]], [start], retain_graph: true, allow_unused: true)[0])]);
        filter.Step(() => model.Forward(theta, x), tensor(new long[] { label })).Dispose();
        var p = filter.State.Guard.P!; // the guard's first snapshot is the prior itself

        var a = h.pow(2).sum(dim: 0).sqrt();
        double floor = 0.1 * a.pow(2).mean().sqrt().item<double>();
        var product = p * a.clamp_min(floor);
        double c = product[0].item<double>();
        Assert.True((product - c).abs().max().item<double>() <= 1e-9 * c, "p_i · max(a_i, floor) should be one constant");
        double traceG = (p * a.pow(2)).sum().item<double>();
        Assert.Equal(2 * 3 * options.R0, traceG, 1e-9);
        Assert.True(p.max().item<double>() > 2 * p.min().item<double>(), "columns of different norms should get different p");
    }

    [Fact]
    public void AutoPriorWeightScalesTheInitialCovariance()
    {
        var model = new TinyMlp(classes: 3);
        var (x, label) = TinyMlp.Stream(3, 1, seed: 1)[0];
        double[] InitialP(double k)
        {
            using var theta = model.NewTheta(seed: 2);
            using var filter = new LokoFilter(theta, Options with { AutoPriorWeight = k, Q = 0, Guard = new GuardOptions() });
            filter.Step(() => model.Forward(theta, x), tensor(new long[] { label })).Dispose();
            return filter.State.Guard.P!.data<double>().ToArray(); // the guard's first snapshot is the prior itself
        }
        var one = InitialP(1);
        var four = InitialP(4);
        Assert.All(one, v => Assert.Equal(one[0], v));
        Assert.Equal(4 * one[0], four[0], 1e-12);
    }
}
