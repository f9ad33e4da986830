using LoKO.Engine.Batching;
using LoKO.Engine.Filter;
using LoKO.Engine.Lora;
using LoKO.Engine.Models;
using LoKO.Engine.Optimizers;
using LoKO.Engine.Presets;
using LoKO.Engine.Tests.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace LoKO.Engine.Tests.Batching;

/// <summary>
/// Steps of several tenants through one shared forward and reverse pass against the same tenants stepped one at a
/// time: every tenant must end with the same θ (and, for the filter, the same p, Σ and R) and have seen the same
/// predictions.
/// </summary>
[Collection(ModelCollection.Name)]
public class TenantBatchTests(ModelFixture models)
{
    const int Tenants = 8, Steps = 3;

    public static TheoryData<string, string> PresetsAndOptimizers => new()
    {
        { ModelPresets.MiniLmL6, "loko" }, { ModelPresets.MiniLmL6, "adamw" },
        { ModelPresets.ResNet18, "loko" }, { ModelPresets.ResNet18, "adamw" },
    };

    BaseModel Model(string preset) => preset == ModelPresets.MiniLmL6 ? models.MiniLm : models.ResNet18;

    /// <summary>Each tenant's examples in stream order, step s of tenant k at [s·Tenants + k], with labels in [0, 5).</summary>
    static IReadOnlyList<(ModelInput Input, int Label)> Examples(string preset, int count) => preset == ModelPresets.MiniLmL6
        ? [.. TestInputs.Texts(count).Select((t, i) => (t, i % 5))]
        : [.. TestInputs.MnistDigits(count).Select(d => (TestInputs.Image(d), d.Label % 5))];

    /// <summary>Tenant k: its own seed, 2 + k % 4 classes, and B ≠ 0 so every LoRA entry has a gradient from the first step.</summary>
    static TenantAdapter Adapter(BaseModel model, int k)
    {
        var adapter = model.CreateAdapter(new LoraOptions(), outputs: 2 + k % 4, seed: 40 + k);
        using var _ = no_grad();
        adapter.Theta.add_(randn(adapter.Theta.shape[0], generator: new Generator((ulong)(90 + k))) * 0.01);
        return adapter;
    }

    static IOnlineOptimizer Optimizer(string kind, TenantAdapter adapter) => kind switch
    {
        "adamw" => GradientOptimizer.AdamW(adapter.Theta, 1e-3),
        "paper" => new LokoFilter(adapter.Theta, LokoVariants.Named(LokoVariants.Paper), head: HeadBlock.Of(adapter.Layout)),
        _ => new LokoFilter(adapter.Theta, LokoVariants.Named(LokoVariants.Default), head: HeadBlock.Of(adapter.Layout)),
    };

    static long Label(TenantAdapter adapter, int label) => label % adapter.Layout.Outputs;

    [Theory, MemberData(nameof(PresetsAndOptimizers))]
    public void BatchedTenantsEndWhereSeparateRunsEnd(string preset, string optimizer) =>
        Compare(preset, Enumerable.Repeat(optimizer, Tenants).ToArray(), shared: Enumerable.Repeat(true, Tenants).ToArray());

    [Theory, InlineData("loko"), InlineData("adamw")]
    public void TextsOfDifferentLengthsInOnePaddedPassEndWhereSeparateRunsEnd(string optimizer)
    {
        // Unlimited padding: each step's 8 texts run as one pass, padded to the longest, in another order than
        // ascending length, so the rows must still reach their own tenants.
        var lengths = Examples(ModelPresets.MiniLmL6, Tenants * Steps).Chunk(Tenants).Select(round => round.Select(e => Length(e.Input)).ToArray()).ToList();
        Assert.All(lengths, round => Assert.True(round.Distinct().Count() > 2, $"a step's texts should have several lengths: {string.Join(',', round)}"));
        Assert.Contains(lengths, round => !round.SequenceEqual(round.Order()));
        Compare(ModelPresets.MiniLmL6, Enumerable.Repeat(optimizer, Tenants).ToArray(), Enumerable.Repeat(true, Tenants).ToArray(), double.PositiveInfinity);
    }

    long Length(ModelInput text)
    {
        using var encoded = models.MiniLm.Encode([text]);
        return encoded.TokenMask!.sum().item<long>();
    }

    [Fact]
    public void TenantsThatCannotShareRunAloneInTheSameBatch()
    {
        // The paper's filter needs C − 1 Jacobian rows of its own; it steps alone beside the shared group.
        string[] kinds = ["paper", "loko", "adamw", "paper", "loko", "adamw", "paper", "loko"];
        Compare(ModelPresets.ResNet18, kinds, [.. kinds.Select(k => k != "paper")]);
    }

    [Theory, InlineData(ModelPresets.MiniLmL6), InlineData(ModelPresets.ResNet18)]
    public void OneReversePassGivesEveryTenantTheGradientOfItsOwnExample(string preset)
    {
        using var scope = NewDisposeScope();
        var model = Model(preset);
        var inputs = Examples(preset, Tenants).Select(e => e.Input).ToList();
        var adapters = Enumerable.Range(0, Tenants).Select(k => Adapter(model, k)).ToArray();
        try
        {
            // Each tenant's own cotangent on its own logits, as an optimizer names it.
            var cotangents = adapters.Select((a, k) => randn(1, a.Layout.Outputs, generator: new Generator((ulong)(70 + k)))).ToArray();
            var alone = adapters.Select((a, k) => autograd.grad([(model.Forward(model.Encode([inputs[k]]), a) * cotangents[k]).sum()], [a.Theta])[0]).ToArray();

            using var encoded = model.Encode(inputs);
            long lora = adapters[0].Layout.HeadWeight.Offset;
            var features = model.FeatureRows(encoded, adapters[0], stack([.. adapters.Select(a => a.Theta.narrow(0, 0, lora))]));
            var total = stack([.. adapters.Select((a, k) => (a.Head(features.narrow(0, k, 1)) * cotangents[k]).sum())]).sum();
            var batched = autograd.grad([total], [.. adapters.Select(a => (Tensor)a.Theta)]);
            for (int k = 0; k < Tenants; k++)
            {
                Assert.True(alone[k].narrow(0, 0, lora).abs().max().ToDouble() > 0, $"tenant {k}: the LoRA block should have a gradient");
                AssertClose(batched[k].narrow(0, 0, lora), alone[k].narrow(0, 0, lora), $"tenant {k}: LoRA gradient");
                AssertClose(batched[k], alone[k], $"tenant {k}: gradient");
            }

            // The same pass with its θ rows rolled by one, example k read through tenant k + 1's LoRA block: that bound
            // must reject every tenant's gradient by far, or it would not catch a batch whose rows are crossed.
            var rolled = model.FeatureRows(encoded, adapters[0], stack([.. adapters.Select((_, k) => adapters[(k + 1) % Tenants].Theta.narrow(0, 0, lora))]));
            var crossed = autograd.grad([stack([.. adapters.Select((a, k) => (a.Head(rolled.narrow(0, k, 1)) * cotangents[k]).sum())]).sum()],
                                        [.. adapters.Select(a => (Tensor)a.Theta)]);
            for (int k = 0; k < Tenants; k++)
            {
                var expected = alone[k].narrow(0, 0, lora);
                double diff = MaxDiff(crossed[k].narrow(0, 0, lora), expected), bound = 1e-5 * Scale(expected);
                Assert.True(diff > 100 * bound, $"tenant {k}: crossed rows give a LoRA gradient {diff:E3} from its own, not far past the bound {bound:E3}");
            }
        }
        finally
        {
            foreach (var a in adapters) a.Dispose();
        }
    }

    /// <summary>One tenant's state after a run: θ, the filter's p, R and Σ (null for the baselines), and each step's predictions.</summary>
    sealed record TenantState(Tensor Theta, Tensor? P, Tensor? R, Tensor? Sigma, long Steps, long Applied, List<Tensor> Predictions, bool[] Shared);

    /// <summary>
    /// The tenants stepped through <see cref="TenantBatch"/> or one at a time, from their initial θ (optionally perturbed by
    /// <paramref name="perturbation"/> relative to each entry: the size of the float rounding a batched pass changes).
    /// </summary>
    TenantState[] Run(BaseModel model, string preset, string[] kinds, bool batched, double perturbation = 0, bool crossed = false,
                      int steps = Steps, double slack = SimilarLengths.Slack)
    {
        var examples = Examples(preset, Tenants * steps);
        var adapters = Enumerable.Range(0, Tenants).Select(k => Adapter(model, k)).ToArray();
        if (perturbation > 0)
            using (no_grad())
                foreach (var (a, k) in adapters.Select((a, k) => (a, k)))
                    a.Theta.mul_(randn(a.Theta.shape[0], generator: new Generator((ulong)(20 + k))) * perturbation + 1);
        var optimizers = adapters.Select((a, k) => Optimizer(kinds[k], a)).ToArray();
        var predictions = Enumerable.Range(0, Tenants).Select(_ => new List<Tensor>()).ToArray();
        var shared = new bool[Tenants];
        try
        {
            for (int s = 0; s < steps; s++)
            {
                using var step = NewDisposeScope();
                var round = Enumerable.Range(0, Tenants).Select(k =>
                {
                    // Crossed: tenants 0 and 1 read each other's example, as a batch that mixed up its rows would.
                    int from = crossed && k < 2 ? 1 - k : k;
                    var (input, label) = examples[s * Tenants + from];
                    return new TenantStep(adapters[k], optimizers[k], input, tensor(new[] { Label(adapters[k], label) }));
                }).ToList();
                var results = batched
                    ? TenantBatch.Step(model, round, slack)
                    : [.. round.Select(t => new TenantStepResult(t.Optimizer.Step(model.Pass([t.Input], t.Adapter), t.Targets), null, false))];
                for (int k = 0; k < Tenants; k++)
                {
                    var r = results[k];
                    Assert.True(r.Error is null, $"tenant {k}, step {s}: {r.Error}");
                    Assert.Equal(StepStatus.Applied, r.Outcome!.Status);
                    shared[k] = s == 0 ? r.SharedPass : shared[k] && r.SharedPass;
                    predictions[k].Add(r.Outcome.Predictions.clone().MoveToOuterDisposeScope());
                    r.Outcome.Dispose();
                }
            }
            return [.. Enumerable.Range(0, Tenants).Select(k =>
            {
                var state = (optimizers[k] as LokoFilter)?.State;
                return new TenantState(adapters[k].Theta.detach().clone(), state?.P?.clone(), state?.R?.clone(), state?.Sigma?.clone(),
                                       state?.Steps ?? 0, state?.Applied ?? 0, predictions[k], shared);
            })];
        }
        finally
        {
            foreach (var o in optimizers) o.Dispose();
            foreach (var a in adapters) a.Dispose();
        }
    }

    /// <summary>
    /// θ, R and Σ, and the predictions, within 1e-5 of scale. θ and p of the per-entry laws (AdamW, the root-precision
    /// block) divide by each entry's gradient, so an entry whose gradient is at the float-rounding level moves by rounding
    /// noise in any run: those two are held to 1e-5 of scale or, where more, to 10× the distance between two separate
    /// runs whose starts differ by rounding-sized perturbations (see <see cref="Run"/>), which a wrong batch exceeds by far
    /// (<see cref="ABatchThatCrossedTwoTenantsRowsWouldFailTheComparison"/>).
    /// </summary>
    void Compare(string preset, string[] kinds, bool[] shared, double slack = SimilarLengths.Slack)
    {
        using var scope = NewDisposeScope();
        var model = Model(preset);
        var separate = Run(model, preset, kinds, batched: false);
        var batched = Run(model, preset, kinds, batched: true, slack: slack);
        var floor = Run(model, preset, kinds, batched: false, perturbation: 1e-6);
        var initial = Enumerable.Range(0, Tenants).Select(k => Adapter(model, k)).ToArray();
        try
        {
            for (int k = 0; k < Tenants; k++)
            {
                string who = $"tenant {k} ({kinds[k]}, {initial[k].Layout.Outputs} labels)";
                var (b, s, f) = (batched[k], separate[k], floor[k]);
                Assert.Equal(shared[k], b.Shared[k]);
                Assert.True((s.Theta - initial[k].Theta).abs().max().ToDouble() > 1e-4, $"{who}: θ should have moved");
                foreach (var (what, diff, bound) in Differences(b, s, f))
                    Assert.True(diff <= bound, $"{who}: {what}: batched and separate differ by {diff:E3}, more than the bound {bound:E3}");
                Assert.Equal(s.Steps, b.Steps);
                Assert.Equal(s.Applied, b.Applied);
            }
        }
        finally
        {
            foreach (var a in initial) a.Dispose();
        }
    }

    /// <summary>Each compared quantity of one tenant: how far <paramref name="b"/> is from <paramref name="s"/>, and the bound it is held to.</summary>
    static IEnumerable<(string What, double Diff, double Bound)> Differences(TenantState b, TenantState s, TenantState f)
    {
        (string, double, double) Near(string what, Tensor actual, Tensor expected, Tensor perturbed) =>
            (what, MaxDiff(actual, expected), Math.Max(1e-5 * Scale(expected), 10 * MaxDiff(perturbed, expected)));
        (string, double, double) Close(string what, Tensor actual, Tensor expected) =>
            (what, MaxDiff(actual, expected), 1e-5 * Scale(expected));
        yield return Near("θ", b.Theta, s.Theta, f.Theta);
        for (int step = 0; step < s.Predictions.Count; step++)
            yield return Near($"step {step}'s predictions", b.Predictions[step], s.Predictions[step], f.Predictions[step]);
        if (s.P is null) yield break;
        yield return Near("p", b.P!, s.P, f.P!);
        yield return Close("R", b.R!, s.R!);
        if (s.Sigma is not null) yield return Close("head Σ", b.Sigma!, s.Sigma);
    }

    [Theory, InlineData(ModelPresets.MiniLmL6, "loko"), InlineData(ModelPresets.ResNet18, "adamw")]
    public void ABatchThatCrossedTwoTenantsRowsWouldFailTheComparison(string preset, string optimizer)
    {
        // Tenants 0 and 1 learn each other's examples in the batched run: the comparison's bounds must reject that, for
        // θ, with a margin, or they would not catch a batch whose rows reach the wrong tenant. The margin is widest for
        // AdamW on resnet18 (over 100×); the default filter's per-entry law makes θ of separate runs from rounding-perturbed
        // starts differ more (its bound is ten times that), and crossed rows still land 6× past it on minilm-l6.
        using var scope = NewDisposeScope();
        var model = Model(preset);
        var kinds = Enumerable.Repeat(optimizer, Tenants).ToArray();
        var separate = Run(model, preset, kinds, batched: false);
        var crossed = Run(model, preset, kinds, batched: true, crossed: true);
        var floor = Run(model, preset, kinds, batched: false, perturbation: 1e-6);
        for (int k = 0; k < 2; k++)
        {
            var (_, diff, bound) = Differences(crossed[k], separate[k], floor[k]).First();
            Assert.True(diff > 3 * bound, $"tenant {k}: crossed rows move θ by {diff:E3}, not far enough past the bound {bound:E3}");
        }
        for (int k = 2; k < Tenants; k++)
            foreach (var (what, diff, bound) in Differences(crossed[k], separate[k], floor[k]))
                Assert.True(diff <= bound, $"tenant {k}: {what}: {diff:E3} > {bound:E3}");
    }

    [Theory, InlineData(ModelPresets.MiniLmL6, "loko"), InlineData(ModelPresets.ResNet18, "adamw")]
    public void ABatchOfOneIsTheUnbatchedStep(string preset, string optimizer)
    {
        using var scope = NewDisposeScope();
        var model = Model(preset);
        var (input, label) = Examples(preset, 1)[0];
        using var alone = Adapter(model, 3);
        using var batched = Adapter(model, 3);
        using var aloneOptimizer = Optimizer(optimizer, alone);
        using var batchedOptimizer = Optimizer(optimizer, batched);
        var targets = tensor(new[] { Label(alone, label) });
        using var expected = aloneOptimizer.Step(model.Pass([input], alone), targets);
        var result = Assert.Single(TenantBatch.Step(model, [new TenantStep(batched, batchedOptimizer, input, targets)]));
        Assert.Null(result.Error);
        Assert.False(result.SharedPass);
        using var outcome = result.Outcome!;
        Assert.Equal(expected.Status, outcome.Status);
        Assert.Equal(expected.Loss, outcome.Loss);
        Assert.True(expected.Predictions.eq(outcome.Predictions).all().item<bool>(), "the predictions should be the unbatched step's");
        Assert.True(alone.Theta.detach().eq(batched.Theta.detach()).all().item<bool>(), "θ should be the unbatched step's, bit for bit");
        if (aloneOptimizer is LokoFilter a && batchedOptimizer is LokoFilter b)
            Assert.True(a.State.P!.eq(b.State.P!).all().item<bool>(), "p should be the unbatched step's, bit for bit");
    }

    [Fact]
    public void PassesHoldRowsOfOneLengthUnlessPaddingIsAllowed()
    {
        long[] lengths = [8, 8, 9, 10, 8, 30];
        Assert.Equal([[0, 1, 4], [2], [3], [5]], SimilarLengths.Passes(lengths, 0));
        // With 15% padding allowed, 9 joins the 8s (36 padded tokens for 33 real), 10 does not (50 for 43).
        Assert.Equal([[0, 1, 4, 2], [3], [5]], SimilarLengths.Passes(lengths, 0.15));
        // With 25%, 10 joins too (50 for 43), 30 does not (180 for 73); unlimited padding is one pass.
        Assert.Equal([[0, 1, 4, 2, 3], [5]], SimilarLengths.Passes(lengths, 0.25));
        Assert.Equal([[0, 1, 4, 2, 3, 5]], SimilarLengths.Passes(lengths, double.PositiveInfinity));
    }

    [Fact]
    public void PaddedTextRowsHaveTheFeaturesOfTheirUnpaddedRuns()
    {
        using var scope = NewDisposeScope();
        var model = models.MiniLm;
        var texts = TestInputs.Texts(4);
        var adapters = Enumerable.Range(0, texts.Count).Select(k => Adapter(model, k)).ToArray();
        try
        {
            using var inputs = model.Encode(texts);
            var lengths = inputs.TokenMask!.sum(dim: 1).data<long>().ToArray();
            Assert.True(lengths.Distinct().Count() > 1, "the texts should have different lengths");
            long lora = adapters[0].Layout.HeadWeight.Offset;
            Tensor rows;
            using (no_grad()) rows = stack([.. adapters.Select(a => a.Theta.detach().narrow(0, 0, lora))]);
            Tensor batched;
            using (no_grad()) batched = model.FeatureRows(inputs, adapters[0], rows);
            for (int k = 0; k < texts.Count; k++)
            {
                using var one = model.Encode([texts[k]]);
                Tensor alone;
                using (no_grad()) alone = model.Features(one, adapters[k]);
                AssertClose(batched.narrow(0, k, 1), alone, $"text {k} ({lengths[k]} tokens of {inputs.TokenMask.shape[1]})");
            }
        }
        finally
        {
            foreach (var a in adapters) a.Dispose();
        }
    }

    [Fact]
    public void AnExampleThatCannotRunFailsOnlyItsOwnStep()
    {
        using var scope = NewDisposeScope();
        var model = models.ResNet18;
        var digits = TestInputs.MnistDigits(3);
        var adapters = Enumerable.Range(0, 3).Select(k => Adapter(model, k)).ToArray();
        var optimizers = adapters.Select(a => Optimizer("loko", a)).ToArray();
        try
        {
            ModelInput[] inputs = [TestInputs.Image(digits[0]), new TextInput("not an image"), TestInputs.Image(digits[2])];
            var results = TenantBatch.Step(model, [.. Enumerable.Range(0, 3).Select(k => new TenantStep(adapters[k], optimizers[k], inputs[k], tensor(new[] { 0L })))]);
            Assert.IsType<ArgumentException>(results[1].Error);
            Assert.Null(results[1].Outcome);
            foreach (int k in new[] { 0, 2 })
            {
                Assert.Null(results[k].Error);
                Assert.Equal(StepStatus.Applied, results[k].Outcome!.Status);
                results[k].Outcome!.Dispose();
            }
        }
        finally
        {
            foreach (var o in optimizers) o.Dispose();
            foreach (var a in adapters) a.Dispose();
        }
    }

    [Fact]
    public void ATenantCannotStepTwiceInOneBatch()
    {
        using var scope = NewDisposeScope();
        var model = models.ResNet18;
        using var adapter = Adapter(model, 0);
        using var optimizer = Optimizer("adamw", adapter);
        var input = TestInputs.Images(1)[0];
        var step = new TenantStep(adapter, optimizer, input, tensor(new[] { 0L }));
        var e = Assert.Throws<ArgumentException>(() => TenantBatch.Step(model, [step, step with { }]));
        Assert.Contains("steps[1]", e.Message);
    }

    static void AssertClose(Tensor actual, Tensor expected, string what)
    {
        double scale = expected.abs().max().ToDouble();
        double diff = (actual.to(ScalarType.Float64).cpu() - expected.to(ScalarType.Float64).cpu()).abs().max().ToDouble();
        Assert.True(diff <= 1e-5 * scale, $"{what}: batched and separate differ by {diff:E3} (scale {scale:E3})");
    }

    static double MaxDiff(Tensor x, Tensor y) => (x.to(ScalarType.Float64).cpu() - y.to(ScalarType.Float64).cpu()).abs().max().ToDouble();

    static double Scale(Tensor x) => x.abs().max().ToDouble();

}
