using System.Globalization;
using System.Text;
using System.Text.Json;
using LoKO.Bench.Load;
using LoKO.Bench.Serving;
using static LoKO.Bench.Online.Format;

namespace LoKO.Bench.Scale;

/// <summary>`soak`: tenants learning and predicting for minutes while memory is sampled (<see cref="SoakRun"/>). Exit code 1 when native memory grew faster than --max-slope over the second half, or a request failed.</summary>
public static class SoakCommand
{
    public const string Usage = "soak --minutes M [--tenants 8] [--interval 10 (s)] [--max-slope 1 (MiB/min)] [--max-resident 0] [--threads 1] "
                                + "[--server PATH] [--work DIR (keeps the data directory)] [--out DIR (default artifacts/soak)]";
    static readonly string[] Labels = ["computers", "science"];

    public static int Run(BenchArgs args)
    {
        args.Allow("minutes", "tenants", "interval", "max-slope", "max-resident", "threads", "server", "work", "out");
        var keep = args.String("work");
        var work = keep is null ? Path.Combine(Path.GetTempPath(), "loko-soak-" + Guid.NewGuid().ToString("N")) : Path.GetFullPath(keep);
        var settings = new SoakSettings
        {
            Minutes = args.Numbers("minutes", []) is [var m] ? m : throw new ArgumentException("--minutes is required (one positive number)"),
            Tenants = args.Int("tenants", 8),
            IntervalSeconds = args.Numbers("interval", [10])[0],
            MaxSlopeMBPerMinute = args.Numbers("max-slope", [1])[0],
            MaxResident = args.Int("max-resident", 0),
            Threads = args.Int("threads", 1),
            ServerPath = args.String("server") is { } path ? Path.GetFullPath(path) : ServerProcess.BuiltServerPath(),
            WorkDirectory = work,
        };
        settings.Validate();
        var outDir = args.String("out") ?? Path.Combine("artifacts", "soak");

        SoakReport report;
        try
        {
            report = SoakRun.RunAsync(settings, Labels, LabeledText.Fortunes(Labels), outDir, line => Console.Error.WriteLine(line)).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is ServerFailure or LoadFailure)
        {
            Console.Error.WriteLine($"loko-bench soak: {e.Message}");
            return 1;
        }
        finally
        {
            ScaleServer.KeepLog(work, outDir);
            if (keep is null && Directory.Exists(work)) Directory.Delete(work, recursive: true);
        }
        var md = Markdown(report);
        File.WriteAllText(Path.Combine(outDir, "report.md"), md);
        Console.Error.Write(md);
        Emit(Path.Combine(outDir, "report.json"), JsonSerializer.Serialize(report, ReportJson.Options));
        return report.Passed ? 0 : 1;
    }

    public static string Markdown(SoakReport r)
    {
        string F(double v, string f = "F2") => double.IsFinite(v) ? v.ToString(f, CultureInfo.InvariantCulture) : "—";
        string O(double? v) => v is { } x ? F(x, "F1") : "—";
        var md = new StringBuilder();
        md.AppendLine(Inv($"# Soak: {r.Tenants} tenants learning and predicting for {r.Minutes} min"));
        md.AppendLine();
        md.AppendLine(Inv($"minilm-l6, labels {string.Join("/", Labels)}, default `loko` optimizer; each tenant in turn learns one example (a Learn stream of one) and asks for one prediction; {(r.MaxResident > 0 ? $"at most {r.MaxResident} tenants resident (the others evicted and reloaded as they are used)" : "every tenant resident")}. {r.ExamplesAcknowledged} examples acknowledged, {r.StepsApplied:F0} steps, {r.Predictions} predictions, {r.Samples} samples."));
        md.AppendLine();
        md.AppendLine("| second half, least-squares slope | per minute |");
        md.AppendLine("|---|---:|");
        md.AppendLine(Inv($"| native memory (RSS − GC committed) | **{F(r.NativeSlopeMBPerMinute)} MiB** (limit {F(r.MaxSlopeMBPerMinute)}) |"));
        md.AppendLine(Inv($"| managed (GC committed) | {F(r.ManagedSlopeMBPerMinute)} MiB |"));
        md.AppendLine(Inv($"| RSS | {F(r.RssSlopeMBPerMinute)} MiB |"));
        md.AppendLine(Inv($"| live TorchSharp tensors | {F(r.TensorSlopePerMinute, "F1")} |"));
        md.AppendLine();
        md.AppendLine(Inv($"Native memory {F(r.NativeFirstMB, "F0")} → {F(r.NativeLastMB, "F0")} MiB; live tensors {r.TensorsFirst} → {r.TensorsLast}; mean step {O(r.StepMeanMsFirstHalf)} ms (first half), {O(r.StepMeanMsSecondHalf)} ms (second half). Failed requests: {r.Failed}."));
        foreach (var f in r.FailureMessages) md.AppendLine($"- {f}");
        md.AppendLine();
        md.AppendLine(Inv($"Samples: `{Path.GetFileName(r.Csv)}`, plot: `{Path.GetFileName(r.Png)}`. Verdict: {(r.Passed ? "passed" : "FAILED")}."));
        return md.ToString();
    }
}
