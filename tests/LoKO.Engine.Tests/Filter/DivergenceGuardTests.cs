using LoKO.Engine.Checkpoints;
using LoKO.Engine.Filter;
using LoKO.Engine.Optimizers;
using static TorchSharp.torch;

namespace LoKO.Engine.Tests.Filter;

public class DivergenceGuardTests
{
    /// <summary>P₀ = 1, R₀ = 0.001, β = 0.5: far too trusting of each example. Unguarded, this collapses to chance.</summary>
    static LokoOptions Aggressive(bool guard) => new()
    {
        P0 = InitialCovariance.Constant, P0Constant = 1.0, R0 = 0.001, Beta = 0.5,
        Guard = new GuardOptions { Enabled = guard },
    };

    static (double[] Windows, long Events) Run(bool guard)
    {
        var model = new TinyMlp(classes: 10);
        using var theta = model.NewTheta(seed: 2);
        using var filter = new LokoFilter(theta, Aggressive(guard));
        var correct = new List<double>();
        foreach (var (x, label) in TinyMlp.Stream(10, 900, seed: 4))
        {
            using var o = filter.Step(() => model.Forward(theta, x), tensor(new long[] { label }));
            correct.Add(o.Predictions.argmax(1).item<long>() == label ? 1 : 0);
        }
        return (Windows100(correct), filter.State.GuardEvents);
    }

    static double[] Windows100(IReadOnlyList<double> correct) =>
        [.. Enumerable.Range(0, correct.Count - 99).Select(i => correct.Skip(i).Take(100).Average())];

    [Fact]
    public void GuardKeepsAnAggressiveFilterFromCollapsing()
    {
        var (unguarded, none) = Run(guard: false);
        Assert.Equal(0, none);
        // The setting really does diverge: without the guard the last 300 examples are near chance (10 %).
        Assert.True(unguarded[^1] < 0.2 && unguarded.Skip(unguarded.Length - 200).Average() < 0.2,
            $"expected the unguarded filter to collapse, last window {unguarded[^1]:F2}");

        var (guarded, events) = Run(guard: true);
        Assert.True(events >= 1, "the guard should have detected the divergence");
        double best = guarded.Max(), last = guarded[^1];
        Assert.True(last >= 0.9 * best, $"guarded filter collapsed: last window {last:F2}, best {best:F2}");
        Assert.True(last >= 0.4, $"guarded filter should learn: last window {last:F2}");
    }

    /// <summary>What a restore must bring back, and the damping it applies: θ, p, Σ and R (τ·I) as plain arrays.</summary>
    readonly record struct Recorded(double[] Theta, double[] P, double[] Sigma, double[] R);

    static Recorded Record(Tensor theta, KalmanState s) =>
        new(theta.data<double>().ToArray(), s.P!.data<double>().ToArray(), s.Sigma!.data<double>().ToArray(), s.R!.data<double>().ToArray());

    static double Gauss(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    /// <summary>
    /// A slow collapse, provoked: from example 800 on, before every example the hidden layer's entries of θ drift a
    /// little along one fixed direction (a state sliding away faster than the filter, whose gain there has shrunk,
    /// corrects it), until the guard fires. The product's default, the natural variant, with its guard's defaults
    /// except the loss blow-up rule, switched off: in this small model a sliding state's loss passes ln C a few windows
    /// after its accuracy falls, and that rule (tested above) would catch it first.
    /// </summary>
    [Theory]
    [InlineData(0.002)]
    [InlineData(0.005)]
    public void ASlowCollapseRestoresTheBestStateDampedAndTheFilterLearnsAgain(double rate)
    {
        const int slideFrom = 800, afterwards = 400;
        var model = new TinyMlp(classes: 4);
        using var theta = model.NewTheta(seed: 2);
        var natural = LokoVariants.Named(LokoVariants.Natural);
        var options = natural with { Guard = natural.Guard with { MaxLossRatio = 1e6 } };
        var guard = options.Guard;
        using var filter = new LokoFilter(theta, options, head: model.Head);
        var stream = TinyMlp.Stream(4, 2800, seed: 4);
        var rng = new Random(7);
        const int hidden = TinyMlp.Hidden * TinyMlp.Inputs + TinyMlp.Hidden;
        using var slide = tensor(Enumerable.Range(0, hidden).Select(_ => rate * Gauss(rng)).ToArray());

        var correct = new List<double>();
        var windowEnds = new List<Recorded>(); // the state at the end of window k is windowEnds[k − 1]
        int firedAt = -1;
        string? reason = null;
        Recorded restored = default;
        for (int i = 0; i < stream.Count && (firedAt < 0 || i <= firedAt + afterwards); i++)
        {
            var (x, label) = stream[i];
            if (i >= slideFrom && firedAt < 0)
                using (no_grad()) theta.narrow(0, 0, hidden).add_(slide);
            using var o = filter.Step(model.Pass(theta, x), tensor(new long[] { label }));
            Assert.Equal(StepStatus.Applied, o.Status);
            correct.Add(o.Predictions.argmax(1).item<long>() == label ? 1 : 0);
            if (o.GuardEvent is not null)
            {
                Assert.True(firedAt < 0, $"a second guard event at example {i}: {o.GuardEvent}");
                (firedAt, reason, restored) = (i, o.GuardEvent, Record(theta, filter.State));
            }
            else if (firedAt < 0 && (i + 1) % guard.Window == 0) windowEnds.Add(Record(theta, filter.State));
        }

        Assert.True(firedAt > slideFrom, $"the guard should have caught the collapse (fired at {firedAt})");
        Assert.True(DivergenceGuard.KindOf(reason!) == "collapse", $"example {firedAt}: {reason}");
        Assert.Equal(1, filter.State.GuardEvents);

        // The best state is the one at the end of the window whose recent span (the last DriftWindows windows) had the
        // highest accuracy.
        double Recent(int k) => correct.Skip((k - guard.DriftWindows) * guard.Window).Take(guard.DriftWindows * guard.Window).Average();
        int best = Enumerable.Range(guard.DriftWindows, windowEnds.Count - guard.DriftWindows + 1).Aggregate((a, b) => Recent(b) > Recent(a) ? b : a);
        var snapshot = windowEnds[best - 1];
        Assert.Equal(snapshot.Theta, restored.Theta);
        AssertClose(snapshot.P.Select(v => v / guard.Damping).ToArray(), restored.P, "p damped");
        AssertClose(snapshot.Sigma.Select(v => v / guard.Damping).ToArray(), restored.Sigma, "Σ damped");
        Assert.Equal(snapshot.R, restored.R); // τ is the likelihood's temperature: the logit path keeps it

        // The collapse was real, and the restored filter is back near its best and still learning.
        double bestAccuracy = Recent(best);
        double collapsed = correct.Skip(firedAt + 1 - guard.DriftWindows * guard.Window).Take(guard.DriftWindows * guard.Window).Average();
        double after = correct.Skip(firedAt + 1).Average();
        Assert.True(collapsed < bestAccuracy - 0.1, $"collapsed span {collapsed:F3}, best {bestAccuracy:F3}");
        Assert.True(after > bestAccuracy - 0.06, $"after the restore {after:F3}, best {bestAccuracy:F3}");
        double moved = theta.data<double>().ToArray().Zip(restored.Theta).Max(q => Math.Abs(q.First - q.Second));
        Assert.True(moved > 1e-2, $"θ moved by at most {moved:E2} in {afterwards} examples after the restore");
    }

    /// <summary>
    /// Healthy runs that plateau and fluctuate must not fire: TinyMlp with labels replaced at random, the natural
    /// variant and the guard's defaults, long enough that the best span is a full reference span.
    /// </summary>
    [Theory]
    [InlineData(10, 0.2, 4000)]
    [InlineData(4, 0.1, 3000)]
    public void AHealthyNoisyStreamNeverFiresTheGuard(int classes, double labelNoise, int count)
    {
        var model = new TinyMlp(classes);
        using var theta = model.NewTheta(seed: 3);
        var options = LokoVariants.Named(LokoVariants.Natural);
        using var filter = new LokoFilter(theta, options, head: model.Head);
        var rng = new Random(5);
        var correct = new List<double>();
        foreach (var (x, clean) in TinyMlp.Stream(classes, count, seed: 6))
        {
            int label = rng.NextDouble() < labelNoise ? rng.Next(classes) : clean;
            using var o = filter.Step(model.Pass(theta, x), tensor(new long[] { label }));
            correct.Add(o.Predictions.argmax(1).item<long>() == label ? 1 : 0);
        }

        Assert.Equal(0, filter.State.GuardEvents);
        var g = filter.State.Guard;
        Assert.Equal(options.Guard.ReferenceWindows * options.Guard.Window, g.BestExamples);
        // …although its accuracy plateaued and bounced as much as a real stream's.
        var late = Windows100(correct.Skip(1000).ToList());
        Assert.True(late.Max() - late.Min() >= 0.1, $"100-windows after the first 1,000 examples span {late.Min():F2}–{late.Max():F2}");
    }

    /// <summary>A guard on its own over a stand-in state: θ [3], p = 1, R = 0.1·I (C = 2), the paper's damping.</summary>
    static DivergenceGuard Synthetic(KalmanState state, ObservationKind kind)
    {
        var guard = new DivergenceGuard(LokoOptions.Paper, kind, state);
        guard.Snapshot();
        return guard;
    }

    /// <summary>
    /// The accuracy rule's false alarms: stationary streams of right and wrong predictions, each right with a fixed
    /// probability, from the noisiest level (0.5) to MNIST's (0.95), 6,000 examples each. The rule must stay quiet; one
    /// whose margin were a few binomial standard errors would not.
    /// </summary>
    [Fact]
    public void StationaryStreamsAtAnyAccuracyNeverFireTheGuard()
    {
        using var predictions = tensor(new[] { 0.9, 0.1 }).unsqueeze(0);
        using var right = tensor(new long[] { 0 });
        using var wrong = tensor(new long[] { 1 });
        var fired = new List<string>();
        foreach (double accuracy in new[] { 0.5, 0.65, 0.8, 0.95 })
            for (int seed = 0; seed < 5; seed++)
            {
                using var theta = zeros(3, ScalarType.Float64);
                using var state = new KalmanState(theta) { P = ones(3, ScalarType.Float64), R = eye(2, dtype: ScalarType.Float64) * 0.1 };
                var guard = Synthetic(state, ObservationKind.Classification);
                var rng = new Random(seed);
                for (int i = 0; i < 6000; i++)
                    if (guard.Observe(0.3, 1, predictions, rng.NextDouble() < accuracy ? right : wrong) is { } reason)
                        fired.Add($"accuracy {accuracy}, seed {seed}, example {i}: {reason}");
                Assert.True(state.Guard.HasBest);
            }
        Assert.Empty(fired);
    }

    /// <summary>
    /// The stream changes (accuracy 0.9, then 0.5 for good): the guard restores once, and when the restored state is
    /// no better it takes the new level as its best instead of restoring and damping again.
    /// </summary>
    [Fact]
    public void WhenTheRestoredStateIsNoBetterTheGuardTakesTheNewLevelAsItsBest()
    {
        using var theta = zeros(3, ScalarType.Float64);
        using var state = new KalmanState(theta) { P = ones(3, ScalarType.Float64), R = eye(2, dtype: ScalarType.Float64) * 0.1 };
        var guard = Synthetic(state, ObservationKind.Classification);
        using var predictions = tensor(new[] { 0.9, 0.1 }).unsqueeze(0);
        using var right = tensor(new long[] { 0 });
        using var wrong = tensor(new long[] { 1 });
        var events = new List<(int Step, string Reason)>();
        for (int i = 0; i < 70 * 50; i++)
        {
            theta[0].fill_(i); // marks which step's state a restore returns to
            bool hit = i < 30 * 50 ? i % 10 != 9 : i % 2 == 0;
            if (guard.Observe(0.3, 1, predictions, hit ? right : wrong) is { } reason)
            {
                events.Add((i, reason));
                Assert.Equal(6 * 50 - 1.0, theta[0].item<double>()); // the best span: the first, 0.9 (later ones only equal it)
                Assert.Equal(0.1, state.P!.max().item<double>(), 12);
                Assert.Equal(1.0, state.R![0, 0].item<double>(), 12);
            }
        }
        // With three windows of 0.5 the recent span (0.7) is 0.2 below the best, past the limit (0.147); a second such
        // window (DriftPatience = 2) ends window 34.
        var (step, text) = Assert.Single(events);
        Assert.Equal(34 * 50 - 1, step);
        Assert.StartsWith(DivergenceGuard.SlowCollapse + " accuracy", text);
        // The first span after the restore (windows 35–40) is still at 0.5, and so is the next: at the end of window 41
        // that level is the new best, and that state the best state.
        Assert.Equal(0.5, state.Guard.BestAccuracy, 12);
        Assert.Equal(41 * 50 - 1.0, state.Guard.Theta![0].item<double>());
        Assert.Equal(1, state.GuardEvents);
    }

    /// <summary>Regression: a loss creeping up by 2 % of the best per window fires the loss rule before any window blows up.</summary>
    [Fact]
    public void ALossCreepingUpIsASlowCollapseForRegression()
    {
        using var theta = zeros(3, ScalarType.Float64);
        using var state = new KalmanState(theta) { P = ones(3, ScalarType.Float64), R = eye(2, dtype: ScalarType.Float64) * 0.1 };
        var guard = Synthetic(state, ObservationKind.Regression);
        using var outputs = zeros(1, 2, ScalarType.Float64);
        string? reason = null;
        int window = 0;
        for (int i = 0; reason is null && i < 80 * 50; i++)
        {
            window = i / 50;
            double loss = 1 + 0.02 * Math.Max(0, window - 30);
            reason = guard.Observe(loss, 1, outputs, outputs);
        }
        Assert.NotNull(reason);
        Assert.StartsWith(DivergenceGuard.SlowCollapse + " mean loss", reason);
        Assert.Equal("collapse", DivergenceGuard.KindOf(reason));
        // The recent six windows' mean passes 1.5 once the newest window's loss is 1.56 (window 58), and stays there a second window.
        Assert.Equal(59, window);
    }

    [Fact]
    public void BlowUpsKeepTheirReasonsAndEveryReasonHasAKind()
    {
        using var theta = zeros(3, ScalarType.Float64);
        using var state = new KalmanState(theta) { P = ones(3, ScalarType.Float64), R = eye(2, dtype: ScalarType.Float64) * 0.1 };
        var guard = Synthetic(state, ObservationKind.Classification);
        using var predictions = tensor(new[] { 0.9, 0.1 }).unsqueeze(0);
        using var label = tensor(new long[] { 0 });
        string? Window(double loss, double innovation)
        {
            string? reason = null;
            for (int i = 0; i < 50; i++) reason = guard.Observe(loss, innovation, predictions, label);
            return reason;
        }
        Assert.Null(Window(0.3, 1));
        var loss = Window(5, 1);
        Assert.StartsWith(DivergenceGuard.LossBlowUp, loss);
        Assert.Equal("loss", DivergenceGuard.KindOf(loss!));
        var innovation = Window(0.3, 100);
        Assert.StartsWith(DivergenceGuard.InnovationBlowUp, innovation);
        Assert.Equal("innovation", DivergenceGuard.KindOf(innovation!));
        Assert.Equal("other", DivergenceGuard.KindOf("something else"));
        Assert.Equal(2, state.GuardEvents);
    }

    /// <summary>A checkpoint written before the slow-collapse rule and Σ's snapshot loads, falls back sensibly and learns on.</summary>
    [Fact]
    public void ACheckpointFromBeforeTheSlowCollapseRuleStillLoads()
    {
        var model = new TinyMlp(classes: 3);
        var options = LokoVariants.Named(LokoVariants.Natural) with { Guard = new GuardOptions { Window = 7, DriftWindows = 2, ReferenceWindows = 3 } };
        var stream = TinyMlp.Stream(3, 60, seed: 5);
        using var theta = model.NewTheta(seed: 4);
        using var saved = new MemoryStream();
        using (var filter = new LokoFilter(theta, options, head: model.Head))
        {
            foreach (var (x, label) in stream.Take(40)) filter.Step(model.Pass(theta, x), tensor(new long[] { label })).Dispose();
            Assert.True(filter.State.Guard.HasBest && filter.State.Guard.History.Count > 0, "the new guard state should be in the checkpoint");
            filter.State.Save(saved);
        }
        saved.Position = 0;
        var (tensors, meta) = SafetensorsCodec.Read(saved);
        // Σ was stored whole then.
        tensors["sigma"] = SymmetricPacking.Get(tensors, "sigma")!;
        string[] oldTensors = ["theta", "p", "r", "guard.theta", "guard.p", "guard.r", "warmup.g2", "sigma"];
        string[] oldMeta = ["steps", "applied", "rejected", "guardEvents", "noiseAdaptation", "guard.windowCount", "guard.windowLoss",
                            "guard.windowInnovation", "guard.bestWindowLoss", "warmup.seen", "prior.scale", "prior.headScale", "prior.sum", "prior.seen"];
        using var old = new MemoryStream();
        SafetensorsCodec.Write(old, tensors.Where(t => oldTensors.Contains(t.Key)).ToDictionary(),
                               meta.Where(m => oldMeta.Contains(m.Key)).ToDictionary());
        old.Position = 0;

        using var theta2 = model.NewTheta(seed: 9);
        using var resumed = new LokoFilter(theta2, options, state: KalmanState.Load(old, theta2), head: model.Head);
        var g = resumed.State.Guard;
        Assert.False(g.HasBest);
        Assert.Empty(g.History);
        Assert.Equal(resumed.State.Sigma!.data<double>().ToArray(), g.Sigma!.data<double>().ToArray());
        Assert.Equal(resumed.State.PriorScale, g.PriorScale);
        Assert.Equal(resumed.State.PriorSeen, g.PriorSeen);
        foreach (var (x, label) in stream.Skip(40))
        {
            using var o = resumed.Step(model.Pass(theta2, x), tensor(new long[] { label }));
            Assert.Equal(StepStatus.Applied, o.Status);
        }
        Assert.True(g.HasBest, "the guard should judge again from the loaded state");
    }

    [Theory]
    [InlineData("guard.driftWindows")]
    [InlineData("guard.referenceWindows")]
    [InlineData("guard.maxAccuracyDrop")]
    [InlineData("guard.driftSigmas")]
    [InlineData("guard.maxLossDrift")]
    [InlineData("guard.driftPatience")]
    public void AnInvalidSlowCollapseSettingNamesItsField(string field)
    {
        var guard = field switch
        {
            "guard.driftWindows" => new GuardOptions { DriftWindows = 1 },
            "guard.referenceWindows" => new GuardOptions { ReferenceWindows = 5 },
            "guard.maxAccuracyDrop" => new GuardOptions { MaxAccuracyDrop = 0 },
            "guard.driftSigmas" => new GuardOptions { DriftSigmas = double.NaN },
            "guard.maxLossDrift" => new GuardOptions { MaxLossDrift = 1 },
            _ => new GuardOptions { DriftPatience = 0 },
        };
        Assert.Equal(field, Assert.Throws<ArgumentOutOfRangeException>(() => (LokoOptions.Paper with { Guard = guard }).Validate()).ParamName);
    }

    static void AssertClose(double[] expected, double[] actual, string what, double tolerance = 1e-12)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = Math.Max(1e-300, expected.Max(Math.Abs));
        double worst = expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second)) / scale;
        Assert.True(worst <= tolerance, $"{what}: relative max |diff| {worst:E2}");
    }
}
