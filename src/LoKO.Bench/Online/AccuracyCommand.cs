using System.Text;
using System.Text.Json;
using LoKO.Bench.Tasks;
using LoKO.Engine.Evaluation;
using LoKO.Engine.Lora;
using LoKO.Engine.Presets;
using static LoKO.Bench.Online.Format;

namespace LoKO.Bench.Online;

/// <summary>
/// `accuracy`: the paper's online protocol on one task for each requested optimizer (the gradient
/// baselines over a learning-rate grid), with report.md, curves.png, curves.csv and results.json.
/// </summary>
public static class AccuracyCommand
{
    public const string Usage =
        "accuracy --task mnist|fortunes|debian|jsonl [--optimizers loko,adamw,adagrad,sgd] [--limit N] [--holdout N] [--seed S] [--out DIR] " +
        "[--image-size 64] [--max-tokens 64] [--data FILE --preset minilm-l6|resnet18] [--threads N]";

    public static int Run(BenchArgs args)
    {
        args.Allow("task", "optimizers", "limit", "holdout", "seed", "out", "image-size", "max-tokens", "data", "preset", "threads");
        Threads.Apply(args);
        var settings = ParseTask(args);
        var families = args.List("optimizers", ["loko", "adamw", "adagrad"]);
        var specs = OptimizerSpec.Expand(families);
        var outDir = args.String("out") ?? Path.Combine("artifacts", $"accuracy-{settings.Task}");

        var task = TaskData.Load(settings);
        Console.Error.WriteLine(Inv($"accuracy: {task.Task} through {task.Preset}; {task.Stream.Count} streamed, {task.HeldOut.Count} held out, {task.Classes.Count} classes; {specs.Count} runs"));
        using var model = ModelPresets.Load(task.Preset, task.PresetOptions);
        var driver = new RunDriver(model, task, settings.Seed);
        driver.WarmUp();

        var results = new List<(OptimizerSpec Spec, RunSummary Summary, OnlineMetrics Metrics)>();
        foreach (var spec in specs)
        {
            var (run, metrics) = driver.Run(spec);
            results.Add((spec, RunSummary.From(spec, run, metrics), metrics));
        }
        // The best of each gradient family by online accuracy (earliest in the grid on ties); every filter variant is its own row.
        var best = results.GroupBy(r => r.Spec.Family == "loko" ? r.Spec.Label : r.Spec.Family).Select(g => g.OrderByDescending(r => r.Summary.OnlineAccuracy).First()).ToList();
        int window = results[0].Metrics.Window, tail = results[0].Metrics.Tail;

        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "report.md"), Report(task, settings, results.Select(r => r.Summary).ToList(), best.Select(b => b.Summary).ToList(), window, tail));
        CurvePlot.Save(Path.Combine(outDir, "curves.png"), $"{task.Task}: online accuracy ({task.Preset}, {task.Stream.Count} examples, batch 1)", window, task.Stream.Count,
            best.Select(b => (b.Summary.Label, b.Metrics.WindowedAccuracy)));
        WriteCurves(Path.Combine(outDir, "curves.csv"), window, results.Select(r => (r.Summary.Label, r.Metrics.WindowedAccuracy)).ToList());

        var json = JsonSerializer.Serialize(new
        {
            command = "accuracy",
            task = task.Task,
            preset = task.Preset,
            imageSize = ModalityIsImage(task) ? task.PresetOptions.ImageSize : (int?)null,
            maxTokens = ModalityIsImage(task) ? (int?)null : task.PresetOptions.MaxTokens,
            classes = task.Classes,
            streamed = task.Stream.Count,
            heldOut = task.HeldOut.Count,
            threads = TorchSharp.torch.get_num_threads(),
            seed = settings.Seed,
            lora = new { rank = driver.Lora.Rank, alpha = driver.Lora.Alpha, targets = "preset default" },
            window,
            tail,
            best = best.Select(b => b.Summary),
            runs = results.Select(r => r.Summary),
        }, Json);
        Emit(Path.Combine(outDir, "results.json"), json);
        Console.Error.WriteLine($"accuracy: wrote {Path.GetFullPath(outDir)}/report.md, curves.png, curves.csv, results.json");
        return 0;
    }

    public static TaskSettings ParseTask(BenchArgs args) => new()
    {
        Task = args.String("task") ?? throw new ArgumentException("--task is required (mnist|fortunes|debian|jsonl)"),
        Limit = args.IntOrNull("limit"),
        HoldOut = args.IntOrNull("holdout"),
        Seed = args.Int("seed", 1),
        ImageSize = args.Int("image-size", 64),
        MaxTokens = args.Int("max-tokens", 64),
        DataFile = args.String("data"),
        Preset = args.String("preset"),
    };

    static bool ModalityIsImage(TaskData task) => TaskData.ModalityOf(task.Preset) == LoKO.Engine.Models.Modality.Image;

    public static string Header(TaskData task, TaskSettings settings, string title)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"# {title}").AppendLine();
        sb.AppendLine($"- data: {task.Source}");
        sb.AppendLine($"- classes ({task.Classes.Count}): {string.Join(", ", task.Classes)}");
        sb.AppendLine(Inv($"- split: {task.SplitRule}; {task.Stream.Count:N0} streamed{(settings.Limit is { } l ? Inv($" (--limit {l})") : "")}, {task.HeldOut.Count:N0} held out"));
        sb.AppendLine(ModalityIsImage(task)
            ? $"- model: {task.Preset}, images resized to {task.PresetOptions.ImageSize}×{task.PresetOptions.ImageSize}"
            : $"- model: {task.Preset}, max {task.PresetOptions.MaxTokens} tokens");
        var lora = new LoraOptions();
        sb.AppendLine($"- adapter: LoRA rank {lora.Rank}, alpha {Num(lora.Alpha)} on the preset's default sites, linear head with {task.Classes.Count} outputs; seed {settings.Seed}; every run starts from the same adapter and sees the same stream order");
        sb.AppendLine($"- machine: {Environment.ProcessorCount} logical CPUs, TorchSharp CPU with {TorchSharp.torch.get_num_threads()} intra-op threads; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        return sb.ToString();
    }

    static string Report(TaskData task, TaskSettings settings, IReadOnlyList<RunSummary> runs, IReadOnlyList<RunSummary> best, int window, int tail)
    {
        var sb = new StringBuilder(Header(task, settings, $"Online accuracy: {task.Task}"));
        sb.AppendLine($"- protocol: one pass, batch size 1; each example is predicted first (scored), then learned. Online accuracy is over the whole stream; " +
                      $"windowed accuracy over the last {window} examples; held-out accuracy after the pass, no learning, batches of {OnlineRun.HeldOutBatch}. " +
                      $"\"examples to X %\" is the first example at which the {window}-window reaches X %. Collapsed: accuracy over the last {tail} < " +
                      $"{OnlineMetrics.CollapseFraction} × best window.");
        var rates = runs.Where(r => r.LearningRate is not null).GroupBy(r => r.Optimizer)
            .Select(g => $"{g.Key} {{{string.Join(", ", g.Select(r => Num(r.LearningRate!.Value)))}}}");
        var baselines = rates.Any() ? $"; gradient baselines one run per learning rate: {string.Join("; ", rates)}" : "";
        sb.AppendLine($"- optimizers: loko = LokoFilter, one run per variant (`loko {Engine.Filter.LokoVariants.Default}` is the default; settings after the name override the variant's){baselines}; best by online accuracy shown first, every run below");
        sb.AppendLine();
        sb.AppendLine("## Best of each optimizer").AppendLine();
        Table(sb, best, window, tail);
        sb.AppendLine().AppendLine("## Every run").AppendLine();
        Table(sb, runs, window, tail);
        sb.AppendLine().AppendLine("Curves of the best run of each optimizer: `curves.png`; every run's windowed accuracy: `curves.csv`.");
        return sb.ToString();
    }

    internal static void Table(StringBuilder sb, IReadOnlyList<RunSummary> rows, int window, int tail)
    {
        sb.AppendLine($"| optimizer | online acc | held-out acc | acc, last {tail} | best {window}-window | examples to 80 % ({window}-window) | examples to 70 % | ms/step | rejected steps | guard events | collapsed? |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in rows)
            sb.AppendLine($"| {r.Label} | {Acc(r.OnlineAccuracy)} | {Acc(r.HeldOutAccuracy)} | {Acc(r.TailAccuracy)} | {Acc(r.BestWindowedAccuracy)} | " +
                          $"{Reach(r.ExamplesTo80)} | {Reach(r.ExamplesTo70)} | {Ms(r.MeanStepMs)} | {r.Rejected} | {r.GuardEvents} | {(r.Collapsed ? "yes" : "no")} |");
    }

    static void WriteCurves(string path, int window, IReadOnlyList<(string Label, IReadOnlyList<double> Curve)> curves)
    {
        var sb = new StringBuilder("example," + string.Join(",", curves.Select(c => $"\"{c.Label}\""))).Append('\n');
        int points = curves.Max(c => c.Curve.Count);
        for (int k = 0; k < points; k++)
            sb.Append(k + window).Append(',').AppendJoin(',', curves.Select(c => k < c.Curve.Count ? c.Curve[k].ToString("R", System.Globalization.CultureInfo.InvariantCulture) : "")).Append('\n');
        File.WriteAllText(path, sb.ToString());
    }
}
