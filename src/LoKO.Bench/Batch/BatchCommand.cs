using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LoKO.Bench.Online;
using LoKO.Engine.Batching;
using LoKO.Engine.Data;
using LoKO.Engine.Imaging;
using LoKO.Engine.Lora;
using LoKO.Engine.Models;
using LoKO.Engine.Optimizers;
using LoKO.Engine.Presets;
using static TorchSharp.torch;
using static LoKO.Bench.Online.Format;

namespace LoKO.Bench.Batch;

/// <summary>
/// `batch`: learned examples/s of T tenants of one base model, each round one example per tenant, with the round
/// run as one <see cref="TenantBatch"/> (one shared forward and reverse pass) and with each tenant stepping alone
/// (today's path), on the same thread, the same examples and the same fresh tenants, the two interleaved round by round.
/// </summary>
public static class BatchCommand
{
    public const string Usage = "batch --preset minilm-l6|resnet18 [--tenants 1,8,64] [--optimizer loko|adamw] [--classes 4] [--examples 128] [--image-size 224] [--max-tokens 128] [--slack 0|0.25|inf] [--threads N]";

    public static int Run(BenchArgs args)
    {
        args.Allow("preset", "tenants", "optimizer", "classes", "examples", "image-size", "max-tokens", "slack", "threads");
        Threads.Apply(args);
        var preset = args.String("preset") ?? throw new ArgumentException("--preset is required (minilm-l6|resnet18)");
        var counts = args.Numbers("tenants", [1, 8, 64]).ToList();
        if (counts.Any(t => t != Math.Floor(t))) throw new ArgumentException("--tenants must be whole numbers of tenants");
        var optimizer = args.String("optimizer") ?? "loko";
        if (optimizer is not ("loko" or "adamw")) throw new ArgumentException("--optimizer must be loko or adamw");
        int classes = args.Int("classes", 4), examples = args.Int("examples", 128);
        if (classes < 2) throw new ArgumentException("--classes must be at least 2");
        if (examples < 1) throw new ArgumentException("--examples must be positive");
        double slack = Slack(args.String("slack"));
        var defaults = new PresetOptions();
        var options = new PresetOptions { ImageSize = args.Int("image-size", defaults.ImageSize), MaxTokens = args.Int("max-tokens", defaults.MaxTokens) };
        var data = Examples(Tasks.TaskData.ModalityOf(preset), classes);

        using var model = ModelPresets.Load(preset, options);
        Console.Error.WriteLine(Inv($"batch: {preset}, {optimizer}, {classes} classes, slack {slack}, {get_num_threads()} threads, about {examples} timed examples per measurement after one untimed round"));
        var figures = new List<BatchFigure>();
        foreach (int tenants in counts.Select(t => (int)t))
        {
            int rounds = Math.Max(1, (examples + tenants - 1) / tenants);
            if (data.Count < (rounds + 1) * tenants) throw new ArgumentException($"{tenants} tenants × {rounds + 1} rounds need {(rounds + 1) * tenants} examples; the data has {data.Count}");
            var (batched, unbatched) = PerSecond(model, data, tenants, rounds, classes, optimizer, slack);
            var figure = new BatchFigure(tenants, rounds * tenants, batched, unbatched);
            figures.Add(figure);
            Console.Error.WriteLine(Inv($"  {tenants,3} tenants: batched {batched:F2} examples/s, unbatched {unbatched:F2} examples/s, ×{figure.Speedup:F2}"));
        }
        Console.Error.WriteLine("| tenants | examples timed | batched (examples/s) | unbatched (examples/s) | batched ÷ unbatched |");
        Console.Error.WriteLine("|---:|---:|---:|---:|---:|");
        foreach (var f in figures)
            Console.Error.WriteLine(Inv($"| {f.Tenants} | {f.Examples} | {f.BatchedPerSecond:F2} | {f.UnbatchedPerSecond:F2} | {f.Speedup:F2} |"));
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            preset,
            optimizer,
            classes,
            threads = get_num_threads(),
            imageSize = options.ImageSize,
            maxTokens = options.MaxTokens,
            slack = double.IsFinite(slack) ? slack : (double?)null, // null: unlimited (one pass)
            figures = figures.Select(f => new { f.Tenants, f.Examples, batched = Math.Round(f.BatchedPerSecond, 3), unbatched = Math.Round(f.UnbatchedPerSecond, 3), speedup = Math.Round(f.Speedup, 3) }),
        }, Json));
        return 0;
    }

    /// <summary>The padding a text pass may compute (<see cref="SimilarLengths"/>): a non-negative fraction, or inf for one pass.</summary>
    static double Slack(string? value) =>
        value is null ? SimilarLengths.Slack
        : value == "inf" ? double.PositiveInfinity
        : double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) && d >= 0 ? d
        : throw new ArgumentException($"--slack must be a non-negative number or inf, got '{value}'");

    static List<(ModelInput Input, long Label)> Examples(Modality modality, int classes) => modality == Modality.Text
        ? [.. StreamOrder.Shuffle(FortuneCorpus.Load(), 7).Select((f, i) => ((ModelInput)new TextInput(f.Text), (long)(i % classes)))]
        : [.. StreamOrder.Shuffle(MnistDigits.Load(), 7).Select(d => ((ModelInput)new ImageInput(RgbImage.FromPixels(d.Pixels, MnistDigits.Side, MnistDigits.Side)), (long)(d.Label % classes)))];

    /// <summary>
    /// Two sets of the same fresh tenants, one stepping batched and one alone, one untimed round each (plans and shape
    /// caches built), then <paramref name="rounds"/> timed rounds of each, interleaved and in alternating order so that
    /// the load of a shared machine weighs on both alike: (batched, unbatched) learned examples per second.
    /// </summary>
    static (double Batched, double Unbatched) PerSecond(BaseModel model, List<(ModelInput Input, long Label)> data, int tenants, int rounds, int classes, string optimizer, double slack)
    {
        using var batched = new Tenants(model, tenants, classes, optimizer, slack);
        using var unbatched = new Tenants(model, tenants, classes, optimizer, slack);
        TimeSpan batchedTime = TimeSpan.Zero, unbatchedTime = TimeSpan.Zero;
        for (int round = 0; round <= rounds; round++)
        {
            var examples = data.GetRange(round * tenants, tenants);
            bool batchedFirst = round % 2 == 0;
            var first = (batchedFirst ? batched : unbatched).Round(examples, batchedFirst);
            var second = (batchedFirst ? unbatched : batched).Round(examples, !batchedFirst);
            if (round == 0) continue;
            batchedTime += batchedFirst ? first : second;
            unbatchedTime += batchedFirst ? second : first;
        }
        return (rounds * tenants / batchedTime.TotalSeconds, rounds * tenants / unbatchedTime.TotalSeconds);
    }

    /// <summary>Fresh tenants of one model (seeds 1000 + k), and a timed round of one step each.</summary>
    sealed class Tenants(BaseModel model, int count, int classes, string optimizer, double slack) : IDisposable
    {
        readonly TenantAdapter[] _adapters = [.. Enumerable.Range(0, count).Select(k => model.CreateAdapter(new LoraOptions(), classes, seed: 1000 + k))];
        IOnlineOptimizer[]? _optimizers;

        IOnlineOptimizer[] Optimizers => _optimizers ??=
            [.. _adapters.Select(a => optimizer == "adamw" ? GradientOptimizer.AdamW(a.Theta, 1e-3) : new OptimizerSpec("loko", null).Create(a))];

        public TimeSpan Round(List<(ModelInput Input, long Label)> examples, bool batched)
        {
            var optimizers = Optimizers;
            var clock = Stopwatch.StartNew();
            using var scope = NewDisposeScope();
            var steps = examples.Select((e, k) => new TenantStep(_adapters[k], optimizers[k], e.Input, tensor(new[] { e.Label }))).ToList();
            if (batched)
                foreach (var r in TenantBatch.Step(model, steps, slack)) Outcome(r).Dispose();
            else
                foreach (var s in steps) s.Optimizer.Step(model.Pass([s.Input], s.Adapter), s.Targets).Dispose();
            return clock.Elapsed;
        }

        public void Dispose()
        {
            foreach (var o in _optimizers ?? []) o.Dispose();
            foreach (var a in _adapters) a.Dispose();
        }
    }

    static StepOutcome Outcome(TenantStepResult result) =>
        result.Outcome ?? throw new InvalidOperationException("a batched step failed", result.Error);
}
