using System.Globalization;
using System.Text;
using System.Text.Json;
using LoKO.Bench.Load;
using LoKO.Bench.Serving;
using static LoKO.Bench.Online.Format;

namespace LoKO.Bench.Scale;

/// <summary>`tenants`: many tenants on one server within its resident-tenant budget (<see cref="TenantsRun"/>). Exit code 1 when the budget was exceeded or a request failed.</summary>
public static class TenantsCommand
{
    public const string Usage = "tenants --count N [--examples 2] [--budget-mb 512] [--cold-samples 100] [--concurrency 4] [--threads 1] [--seed 1] "
                                + "[--server PATH] [--work DIR (keeps the data directory)] [--out DIR (default artifacts/tenants)]";
    static readonly string[] Labels = ["computers", "science"];

    public static int Run(BenchArgs args)
    {
        args.Allow("count", "examples", "budget-mb", "cold-samples", "concurrency", "threads", "seed", "server", "work", "out");
        var keep = args.String("work");
        var work = keep is null ? Path.Combine(Path.GetTempPath(), "loko-tenants-" + Guid.NewGuid().ToString("N")) : Path.GetFullPath(keep);
        var settings = new TenantsSettings
        {
            Count = args.IntOrNull("count") ?? throw new ArgumentException("--count is required"),
            Examples = args.Int("examples", 2),
            BudgetMB = args.Numbers("budget-mb", [512])[0],
            ColdSamples = args.Int("cold-samples", 100),
            Concurrency = args.Int("concurrency", 4),
            Threads = args.Int("threads", 1),
            Seed = args.Int("seed", 1),
            ServerPath = args.String("server") is { } path ? Path.GetFullPath(path) : ServerProcess.BuiltServerPath(),
            WorkDirectory = work,
        };
        settings.Validate();
        var outDir = args.String("out") ?? Path.Combine("artifacts", "tenants");

        TenantsReport report;
        try
        {
            (report, var samples) = TenantsRun.RunAsync(settings, Labels, LabeledText.Fortunes(Labels), line => Console.Error.WriteLine(line))
                .GetAwaiter().GetResult();
            Directory.CreateDirectory(outDir);
            SampleCsv.Write(Path.Combine(outDir, "memory.csv"), samples);
        }
        catch (Exception e) when (e is ServerFailure or LoadFailure)
        {
            Console.Error.WriteLine($"loko-bench tenants: {e.Message}");
            return 1;
        }
        finally
        {
            ScaleServer.KeepLog(work, outDir);
            if (keep is null && Directory.Exists(work)) Directory.Delete(work, recursive: true);
        }
        File.WriteAllText(Path.Combine(outDir, "report.md"), Markdown(report));
        Console.Error.Write(Markdown(report));
        Console.Error.WriteLine($"tenants: report in {Path.GetFullPath(outDir)}");
        Emit(Path.Combine(outDir, "report.json"), JsonSerializer.Serialize(report, ReportJson.Options));
        return report.Passed ? 0 : 1;
    }

    public static string Markdown(TenantsReport r)
    {
        var md = new StringBuilder();
        md.AppendLine(Inv($"# {r.Count} tenants within a {r.BudgetMB} MiB resident-tenant budget"));
        md.AppendLine();
        md.AppendLine(Inv($"minilm-l6, labels {string.Join("/", Labels)}, default `loko` optimizer and LoRA settings; {r.Created} of {r.Count} tenants created, {r.Examples} examples and one prediction each, in {r.CreateSeconds:F0} s ({r.TenantsPerSecond:F1} tenants/s); mean server step {Opt(r.MeanStepMs)} ms."));
        md.AppendLine();
        md.AppendLine("| memory | MiB |");
        md.AppendLine("|---|---:|");
        md.AppendLine(Inv($"| RSS: baseline (base model loaded, one tenant warm) / peak / at the end | {r.BaselineRssMB:F0} / {r.PeakRssMB:F0} / {r.FinalRssMB:F0} |"));
        md.AppendLine(Inv($"| RSS peak over the baseline | {r.PeakRssOverBaselineMB:F0} |"));
        md.AppendLine(Inv($"| RSS, median over the second half of the creation (budget full, evicting) | {r.SteadyRssMB:F0} |"));
        md.AppendLine(Inv($"| **tenants' memory (that median − baseline) vs budget** | **{r.TenantMemoryMB:F0} vs {r.BudgetMB}** |"));
        md.AppendLine(Inv($"| server's estimate of the resident tenants, peak (`loko_tenants_resident_memory_bytes`) | {Opt(r.PeakEstimateMB)} ({r.PeakResidentTenants} tenants resident at most) |"));
        md.AppendLine(Inv($"| managed (GC committed), peak | {Opt(r.PeakManagedMB)} |"));
        md.AppendLine(Inv($"| checkpoint file per tenant, mean | {(r.CheckpointMeanKB is { } kb ? (kb / 1024).ToString("F2", CultureInfo.InvariantCulture) : "—")} |"));
        md.AppendLine();
        var c = r.Cold;
        md.AppendLine("| evicted tenant loaded again | n | p50 ms | p99 ms | max ms |");
        md.AppendLine("|---|---:|---:|---:|---:|");
        foreach (var (name, sp) in new[]
                 {
                     ("checkpoint → first prediction (one Predict)", c.Direct), ("load alone (GetTenant: activation, no forward)", c.Load),
                     ("then the first Predict (forward of the just loaded tenant)", c.FirstForward), ("warm Predict (the next one, tenant resident)", c.Warm),
                 })
            md.AppendLine(Inv($"| {name} | {sp.Count} | {sp.P50:F1} | {sp.P99:F1} | {sp.Max:F1} |"));
        md.AppendLine();
        md.AppendLine(Inv($"{c.Checked} reloaded tenants checked: {c.StateMismatches} with other counters than their examples. Failed requests: {r.Failed}. Peak live TorchSharp tensors: {r.PeakTorchTensors?.ToString(CultureInfo.InvariantCulture) ?? "—"}."));
        foreach (var f in r.FailureMessages) md.AppendLine($"- {f}");
        md.AppendLine();
        md.AppendLine(Inv($"Verdict: {(r.Passed ? "passed" : "FAILED")} — {(r.WithinBudget ? "within" : "OVER")} the budget, {r.Failed} failed requests."));
        return md.ToString();
    }

    static string Opt(double? v) => v is { } x ? x.ToString("F1", CultureInfo.InvariantCulture) : "—";
}
