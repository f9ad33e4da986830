using LoKO.Bench.Load;
using LoKO.Bench.Scale;
using LoKO.Bench.Serving;
using Xunit.Abstractions;

namespace LoKO.Server.Tests;

/// <summary>
/// `loko-bench tenants` and `loko-bench soak` in small, each against the built server as a child process: many more
/// tenants than the resident budget holds, every one created, taught and asked, evicted ones loaded again with their
/// counters intact, memory within the budget; a short soak that samples, writes its CSV and plot and fits a slope.
/// Only invariants are asserted, never a time.
/// </summary>
public sealed class ScaleBenchTests(ITestOutputHelper output) : IDisposable
{
    static readonly string[] Labels = ["computers", "food"];
    readonly string _work = Path.Combine(Path.GetTempPath(), "loko-scale-test-" + Guid.NewGuid().ToString("N"));

    static IReadOnlyList<LabeledText> Texts(int count) => [.. TopicExamples.Make(count).Select(e => new LabeledText(e.Text, e.Label))];

    [Fact]
    public async Task ManyTenantsAreCreatedAndReloadedWithinTheResidentBudget()
    {
        var settings = new TenantsSettings
        {
            Count = 100, Examples = 2, BudgetMB = 128, ColdSamples = 10, ServerPath = ServerProcess.BuiltServerPath(), WorkDirectory = _work,
        };
        var (report, samples) = await TenantsRun.RunAsync(settings, Labels, Texts(400), output.WriteLine);
        output.WriteLine(TenantsCommand.Markdown(report));

        Assert.Equal(settings.Count, report.Created);
        Assert.Equal(0, report.Failed);
        Assert.Empty(report.FailureMessages);
        // The budget was full: tenants were evicted, and the server never counted more than it allows.
        Assert.True(report.PeakResidentTenants < settings.Count / 2, $"{report.PeakResidentTenants} tenants resident: nothing to evict");
        Assert.InRange(report.PeakEstimateMB!.Value, settings.BudgetMB / 2, settings.BudgetMB);
        Assert.True(report.WithinBudget, $"tenants' memory {report.TenantMemoryMB:F0} MiB, budget {settings.BudgetMB} MiB");
        // Every evicted tenant came back from its checkpoint with what it had learned.
        Assert.Equal(2 * settings.ColdSamples, report.Cold.Checked);
        Assert.Equal(0, report.Cold.StateMismatches);
        Assert.Equal(settings.ColdSamples, report.Cold.Direct.Count);
        Assert.Equal(settings.ColdSamples, report.Cold.Load.Count);
        Assert.NotNull(report.CheckpointMeanKB);
        Assert.True(report.Passed);
        Assert.Contains(samples, s => s.TorchTensors > 0 && s.ManagedCommittedBytes > 0 && s.RssBytes > 0);
    }

    [Fact]
    public async Task ASoakSamplesMemoryWritesItsCsvAndPlotAndFitsTheNativeSlope()
    {
        var settings = new SoakSettings
        {
            Minutes = 0.5, Tenants = 2, IntervalSeconds = 2, ServerPath = ServerProcess.BuiltServerPath(), WorkDirectory = _work,
        };
        var outDir = Path.Combine(_work, "out");
        var report = await SoakRun.RunAsync(settings, Labels, Texts(200), outDir, output.WriteLine);
        output.WriteLine(SoakCommand.Markdown(report));

        Assert.Equal(0, report.Failed);
        Assert.True(report.ExamplesAcknowledged > 0 && report.Predictions > 0);
        Assert.True(report.StepsApplied > 0, "no step was learned");
        Assert.True(report.Samples >= 10, $"{report.Samples} samples in 30 s at one every 2 s");
        Assert.True(double.IsFinite(report.NativeSlopeMBPerMinute), "no slope of native memory");
        Assert.True(report.TensorsLast > 0);
        var rows = File.ReadAllLines(report.Csv);
        Assert.StartsWith("seconds,rss_mb,managed_committed_mb", rows[0]);
        Assert.Equal(report.Samples + 1, rows.Length);
        var png = File.ReadAllBytes(report.Png);
        Assert.True(png.Length > 1000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G', "soak.png is not a PNG");
    }

    public void Dispose()
    {
        try { Directory.Delete(_work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
