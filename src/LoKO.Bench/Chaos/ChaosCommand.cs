using System.Globalization;
using System.Text.Json;
using LoKO.Bench.Load;
using LoKO.Bench.Serving;

namespace LoKO.Bench.Chaos;

/// <summary>
/// `chaos`: the built server as a child process, SIGKILLed K times while T tenants stream N fortunes each over gRPC,
/// restarted on the same data directory each time; then every acknowledged example must have been learned exactly
/// once and each tenant's θ must equal an uninterrupted run's (<see cref="ChaosRun"/>). Exit code 1 when it did not.
/// </summary>
public static class ChaosCommand
{
    public const string Usage = "chaos --kills K --tenants T --examples N [--seed 1] [--checkpoint-every 8] [--server PATH (default: the built "
                                + "src/LoKO.Server next to this build's output)] [--work DIR (keeps both data directories; default: a temporary one, deleted)]";
    static readonly string[] Labels = ["computers", "science"];

    public static int Run(BenchArgs args)
    {
        args.Allow("kills", "tenants", "examples", "seed", "checkpoint-every", "server", "work");
        var kills = args.IntOrNull("kills") ?? throw new ArgumentException("--kills is required");
        var tenants = args.IntOrNull("tenants") ?? throw new ArgumentException("--tenants is required");
        var examples = args.IntOrNull("examples") ?? throw new ArgumentException("--examples is required");
        var server = args.String("server") is { } path ? Path.GetFullPath(path) : ServerProcess.BuiltServerPath();
        if (!File.Exists(server)) throw new FileNotFoundException($"--server: no file at {server}");
        var keep = args.String("work");
        var work = keep is null ? Path.Combine(Path.GetTempPath(), "loko-chaos-" + Guid.NewGuid().ToString("N")) : Path.GetFullPath(keep);
        var settings = new ChaosSettings
        {
            Kills = kills, Tenants = tenants, Examples = examples, Seed = args.Int("seed", 1),
            CheckpointEverySteps = args.Int("checkpoint-every", 8), ServerPath = server, WorkDirectory = work,
        };
        settings.Validate();
        var texts = LabeledText.Fortunes(Labels);
        var streams = Enumerable.Range(0, tenants)
            .Select(t => (IReadOnlyList<LabeledText>)[.. Enumerable.Range(t * examples, examples).Select(i => texts[i % texts.Count])]).ToList();

        ChaosReport report;
        try
        {
            report = ChaosRun.RunAsync(settings, Labels, streams, line => Console.Error.WriteLine(line)).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is ServerFailure or ChaosFailure)
        {
            Console.Error.WriteLine($"loko-bench chaos: {e.Message}");
            return 1;
        }
        finally
        {
            if (keep is null && Directory.Exists(work)) Directory.Delete(work, recursive: true);
        }

        Print(report);
        if (keep is not null) Console.Error.WriteLine($"chaos: data directories kept in {work}");
        Console.WriteLine(JsonSerializer.Serialize(report, new JsonSerializerOptions(JsonSerializerDefaults.Web) { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        return report.Passed ? 0 : 1;
    }

    static void Print(ChaosReport report)
    {
        var s = report.Summary;
        Console.Error.WriteLine(Inv($"chaos: {s.Kills} kills ({string.Join(", ", s.Moments.Select(m => $"{m.Value} {m.Key}"))}); restart to ready ")
                                    + Inv($"{s.ReadyMeanSeconds:F1} s mean, {s.ReadyMaxSeconds:F1} s max; to every tenant loaded {s.ActiveMeanSeconds:F1} s mean, ")
                                    + Inv($"{s.ActiveMaxSeconds:F1} s max; {s.Resent} examples resent, {s.Duplicates} of them DUPLICATE; {s.Replayed} log entries replayed"));
        foreach (var t in report.TenantChecks)
        {
            Console.Error.WriteLine(Inv($"chaos: {t.Tenant} ({t.Optimizer}): {t.Accepted} accepted, {t.Applied} applied + {t.Rejected} rejected ")
                                        + Inv($"({t.RolledBack} rolled back), uninterrupted {t.ReferenceApplied} + {t.ReferenceRejected}; max |Δθ| {t.ThetaMaxAbsDiff:E2} ")
                                        + Inv($"over {t.ThetaLength} values; {(t.Passed ? "ok" : "FAILED")}"));
            foreach (var p in t.Problems) Console.Error.WriteLine($"chaos:   {p}");
        }
        Console.Error.WriteLine(Inv($"chaos: {(report.Passed ? "passed" : "FAILED")} — run with kills {s.ChaosSeconds:F0} s, uninterrupted {s.ReferenceSeconds:F0} s"));
    }

    static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
