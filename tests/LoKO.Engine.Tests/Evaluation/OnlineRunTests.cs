using LoKO.Engine.Data;
using LoKO.Engine.Evaluation;
using LoKO.Engine.Filter;
using LoKO.Engine.Imaging;
using LoKO.Engine.Lora;
using LoKO.Engine.Models;
using LoKO.Engine.Optimizers;
using LoKO.Engine.Tests.Models;
using static TorchSharp.torch;

namespace LoKO.Engine.Tests.Evaluation;

[Collection(ModelCollection.Name)]
public class OnlineRunTests(ModelFixture models)
{
    [Fact]
    public void ThirtyFortunesWithAdamWArePredictedBeforeLearningAndScoredOnAHeldOutSplit()
    {
        var model = models.MiniLm;
        var categories = FortuneCorpus.DefaultCategories;
        var examples = StreamOrder.Shuffle(FortuneCorpus.Load(), 3)
            .Select(f => new LabeledExample(new TextInput(f.Text), categories.ToList().IndexOf(f.Category), f.Category)).ToList();
        var stream = examples.Take(30).ToList();
        var heldOut = examples.Skip(30).Take(40).ToList();
        var lora = new LoraOptions();

        // What the untouched adapter says about the first example: the run must score exactly this.
        long firstPrediction;
        double firstLoss;
        using (var fresh = model.CreateAdapter(lora, categories.Count, seed: 4))
        using (no_grad())
        using (var inputs = model.Encode([stream[0].Input]))
        {
            var logits = model.Forward(inputs, fresh);
            firstPrediction = logits.argmax(1).item<long>();
            firstLoss = nn.functional.cross_entropy(logits, tensor(new long[] { stream[0].Label })).item<float>();
        }

        using var adapter = model.CreateAdapter(lora, categories.Count, seed: 4);
        var before = adapter.Theta.detach().clone();
        using var optimizer = GradientOptimizer.AdamW(adapter.Theta, 1e-3);
        int calls = 0;
        var run = OnlineRun.Execute(model, adapter, optimizer, stream, heldOut, (done, _) => Assert.Equal(++calls, done));

        Assert.Equal(30, run.Steps.Count);
        Assert.Equal(30, calls);
        Assert.Equal(Enumerable.Range(0, 30), run.Steps.Select(s => s.Index));
        Assert.Equal(stream.Select(e => e.Label), run.Steps.Select(s => s.Label));
        Assert.All(run.Steps, s =>
        {
            Assert.Equal(StepStatus.Applied, s.Status);
            Assert.InRange(s.Predicted, 0, categories.Count - 1);
            Assert.True(double.IsFinite(s.Loss) && s.Loss > 0);
            Assert.True(s.StepMs > 0);
        });
        Assert.Equal(firstPrediction, run.Steps[0].Predicted);
        Assert.Equal(firstLoss, run.Steps[0].Loss, 4);
        Assert.Equal("adamw", run.Optimizer);
        Assert.Equal(40, run.HeldOutCount);
        Assert.NotNull(run.HeldOutAccuracy);
        Assert.InRange(run.HeldOutAccuracy!.Value, 0, 1);
        // It learned: θ moved.
        Assert.True((adapter.Theta.detach() - before).abs().max().item<float>() > 0);

        var metrics = OnlineMetrics.From(run);
        Assert.Equal(30, metrics.Examples);
        Assert.Equal(run.Steps.Count(s => s.Correct) / 30.0, metrics.OnlineAccuracy, 12);
    }

    [Fact]
    public void DeferredWarmUpStepsAreReplayedWithTheirInputsStillAlive()
    {
        // Bounded P₀ defers the first WarmupExamples steps and replays their forward passes later; the
        // harness must keep those examples' encoded inputs alive until then.
        var model = models.ResNet18;
        var stream = StreamOrder.Shuffle(MnistDigits.Load(), 5).Take(6)
            .Select(d => new LabeledExample(new ImageInput(RgbImage.FromPixels(d.Pixels, MnistDigits.Side, MnistDigits.Side)), d.Label % 2, (d.Label % 2).ToString()))
            .ToList();
        using var adapter = model.CreateAdapter(new LoraOptions(), outputs: 2, seed: 2);
        var options = new LokoOptions { P0 = InitialCovariance.Bounded, WarmupExamples = 3 };
        using var filter = new LokoFilter(adapter.Theta, options);

        var run = OnlineRun.Execute(model, adapter, filter, stream, []);

        Assert.Equal([StepStatus.Deferred, StepStatus.Deferred, StepStatus.Applied, StepStatus.Applied, StepStatus.Applied, StepStatus.Applied],
            run.Steps.Select(s => s.Status));
        Assert.Equal(6, filter.State.Applied);
        Assert.Null(run.HeldOutAccuracy);
        Assert.Equal(2, OnlineMetrics.From(run).Deferred);
    }
}
