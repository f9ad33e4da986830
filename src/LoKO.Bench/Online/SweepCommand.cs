using System.Globalization;
using System.Text;
using System.Text.Json;
using LoKO.Bench.Tasks;
using LoKO.Engine.Filter;
using LoKO.Engine.Presets;
using static LoKO.Bench.Online.Format;

namespace LoKO.Bench.Online;

/// <summary>
/// `sweep`: the LoKO filter over P₀ strategy × β × r₀ (guard on, everything else at its default) on one
/// task's stream; the figures that choose <see cref="LokoOptions"/>' defaults.
/// </summary>
public static class SweepCommand
{
    public const string Usage =
        "sweep --task mnist|fortunes|debian [--limit N] [--p0 auto,auto-x4,constant-1e-2,constant-1e-3,bounded] [--beta 0.9,0.99,0.999] [--r0 0.01,0.1,1] [--forgetting 1,0.999] " +
        "[--holdout N] [--seed S] [--out DIR] [--image-size 64] [--max-tokens 64] [--threads N]";

    static readonly IReadOnlyList<string> DefaultP0 = ["auto", "constant-1e-2", "constant-1e-3", "bounded"];
    static readonly IReadOnlyList<double> DefaultBeta = [0.9, 0.99, 0.999];
    static readonly IReadOnlyList<double> DefaultR0 = [0.01, 0.1, 1.0];

    public static int Run(BenchArgs args)
    {
        args.Allow("task", "limit", "p0", "beta", "r0", "forgetting", "holdout", "seed", "out", "image-size", "max-tokens", "threads");
        Threads.Apply(args);
        var settings = AccuracyCommand.ParseTask(args);
        if (settings.Task is not ("mnist" or "fortunes" or "debian")) throw new ArgumentException("sweep runs on --task mnist, fortunes or debian");
        var p0s = args.List("p0", DefaultP0).Select(ParseP0).ToList();
        var betas = args.Numbers("beta", DefaultBeta);
        var r0s = args.Numbers("r0", DefaultR0);
        var forgettings = args.Numbers("forgetting", [1.0]);
        var outDir = args.String("out") ?? Path.Combine("artifacts", $"sweep-{settings.Task}");

        var grid = (from p0 in p0s from beta in betas from r0 in r0s from lambda in forgettings
                    select (P0: p0.Name, Options: p0.Options with { Beta = beta, R0 = r0, Forgetting = lambda })).ToList();
        foreach (var g in grid) g.Options.Validate();

        var task = TaskData.Load(settings);
        Console.Error.WriteLine(Inv($"sweep: {task.Task} through {task.Preset}; {task.Stream.Count} streamed; {grid.Count} LoKO settings, guard on"));
        using var model = ModelPresets.Load(task.Preset, task.PresetOptions);
        var driver = new RunDriver(model, task, settings.Seed);
        driver.WarmUp();

        var rows = new List<SweepRow>();
        int window = 0, tail = 0;
        foreach (var (p0, options) in grid)
        {
            var spec = new OptimizerSpec("loko", null, options, Inv($"loko P₀ {p0}, β {options.Beta}, r₀ {options.R0}, λ {options.Forgetting}"));
            var (run, metrics) = driver.Run(spec, scoreHeldOut: false);
            (window, tail) = (metrics.Window, metrics.Tail);
            rows.Add(new SweepRow
            {
                P0 = p0,
                Beta = options.Beta,
                R0 = options.R0,
                Forgetting = options.Forgetting,
                OnlineAccuracy = metrics.OnlineAccuracy,
                TailAccuracy = metrics.TailAccuracy,
                BestWindowedAccuracy = metrics.BestWindowedAccuracy,
                ExamplesTo70 = metrics.ExamplesToReach(0.7),
                Collapsed = metrics.Collapsed,
                GuardEvents = metrics.GuardEvents,
                Rejected = metrics.Rejected,
                MeanStepMs = Math.Round(metrics.MeanStepMs, 3),
                Seconds = Math.Round(run.Seconds, 2),
            });
        }
        // Best: highest online accuracy among the settings that did not collapse (all, if every one did).
        var best = rows.Where(r => !r.Collapsed).DefaultIfEmpty().Max(r => r?.OnlineAccuracy) is { } top
            ? rows.First(r => !r.Collapsed && r.OnlineAccuracy == top)
            : rows.OrderByDescending(r => r.OnlineAccuracy).First();

        Directory.CreateDirectory(outDir);
        var sb = new StringBuilder(AccuracyCommand.Header(task, settings, $"LoKO settings sweep: {task.Task}"));
        sb.AppendLine($"- protocol: as `accuracy` (one pass, batch 1, predict then learn), LokoFilter only, divergence guard on, every other option at its default; the held-out split is kept out of the stream but not scored");
        sb.AppendLine($"- grid: P₀ {{{string.Join(", ", p0s.Select(p => p.Name))}}} × β {{{string.Join(", ", betas.Select(Num))}}} × r₀ {{{string.Join(", ", r0s.Select(Num))}}} × λ {{{string.Join(", ", forgettings.Select(Num))}}}; collapsed: accuracy over the last {tail} < {Engine.Evaluation.OnlineMetrics.CollapseFraction} × best {window}-window");
        sb.AppendLine(Inv($"- best (highest online accuracy that did not collapse): P₀ {best.P0}, β {best.Beta}, r₀ {best.R0}, λ {best.Forgetting}"));
        sb.AppendLine();
        sb.AppendLine($"| P₀ | β | r₀ | λ | online acc | acc, last {tail} | best {window}-window | examples to 70 % | collapsed? | guard events | rejected steps | ms/step |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in rows)
        {
            string mark = ReferenceEquals(r, best) ? "**" : "";
            sb.AppendLine($"| {r.P0} | {Num(r.Beta)} | {Num(r.R0)} | {Num(r.Forgetting)} | {mark}{Acc(r.OnlineAccuracy)}{mark} | {Acc(r.TailAccuracy)} | {Acc(r.BestWindowedAccuracy)} | " +
                          $"{Reach(r.ExamplesTo70)} | {(r.Collapsed ? "yes" : "no")} | {r.GuardEvents} | {r.Rejected} | {Ms(r.MeanStepMs)} |");
        }
        File.WriteAllText(Path.Combine(outDir, "sweep.md"), sb.ToString());

        var json = JsonSerializer.Serialize(new
        {
            command = "sweep",
            task = task.Task,
            preset = task.Preset,
            streamed = task.Stream.Count,
            threads = TorchSharp.torch.get_num_threads(),
            seed = settings.Seed,
            window,
            tail,
            best,
            settings = rows,
        }, Json);
        Emit(Path.Combine(outDir, "sweep.json"), json);
        Console.Error.WriteLine($"sweep: wrote {Path.GetFullPath(outDir)}/sweep.md, sweep.json");
        return 0;
    }

    /// <summary>`auto`, `bounded`, or `constant-&lt;value&gt;` (e.g. constant-1e-2).</summary>
    static (string Name, LokoOptions Options) ParseP0(string s)
    {
        var defaults = new LokoOptions();
        if (s == "auto") return (s, defaults with { P0 = InitialCovariance.Auto });
        if (s.StartsWith("auto-x", StringComparison.Ordinal)
            && double.TryParse(s["auto-x".Length..], NumberStyles.Float, CultureInfo.InvariantCulture, out var k) && double.IsFinite(k) && k > 0)
            return (s, defaults with { P0 = InitialCovariance.Auto, AutoPriorWeight = k });
        if (s == "normalised") return (s, defaults with { P0 = InitialCovariance.AutoNormalised });
        if (s.StartsWith("normalised-x", StringComparison.Ordinal)
            && double.TryParse(s["normalised-x".Length..], NumberStyles.Float, CultureInfo.InvariantCulture, out var kn) && double.IsFinite(kn) && kn > 0)
            return (s, defaults with { P0 = InitialCovariance.AutoNormalised, AutoPriorWeight = kn });
        if (s == "bounded") return (s, defaults with { P0 = InitialCovariance.Bounded });
        if (s.StartsWith("constant-", StringComparison.Ordinal)
            && double.TryParse(s["constant-".Length..], NumberStyles.Float, CultureInfo.InvariantCulture, out var c) && double.IsFinite(c) && c > 0)
            return (s, defaults with { P0 = InitialCovariance.Constant, P0Constant = c });
        throw new ArgumentException($"--p0: '{s}' is not auto, auto-x<k>, normalised, normalised-x<k>, bounded or constant-<value> (e.g. constant-1e-2)");
    }

    sealed record SweepRow
    {
        public required string P0 { get; init; }
        public required double Beta { get; init; }
        public required double R0 { get; init; }
        public required double Forgetting { get; init; }
        public required double OnlineAccuracy { get; init; }
        public required double TailAccuracy { get; init; }
        public required double BestWindowedAccuracy { get; init; }
        public int? ExamplesTo70 { get; init; }
        public required bool Collapsed { get; init; }
        public required int GuardEvents { get; init; }
        public required int Rejected { get; init; }
        public required double MeanStepMs { get; init; }
        public required double Seconds { get; init; }
    }
}
