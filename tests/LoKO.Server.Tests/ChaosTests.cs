using System.Text.Json;
using LoKO.Bench.Chaos;
using LoKO.Bench.Serving;
using LoKO.Bench.Load;
using LoKO.Server.Storage;
using Microsoft.EntityFrameworkCore;
using Xunit.Abstractions;

namespace LoKO.Server.Tests;

/// <summary>
/// `loko-bench chaos` in small: the built server as a child process, SIGKILLed five times (one kill of each kind:
/// during appends, steps, a checkpoint, the compaction after one, a rollback) while two tenants (loko, adamw) stream
/// their examples over gRPC with exampleIds, restarted on the same data directory after each kill. Nothing
/// acknowledged is lost or learned twice and θ equals an uninterrupted run's; the log, read from the store itself,
/// holds each exampleId once under its own sequence and marks exactly the rolled-back examples.
/// </summary>
public sealed class ChaosTests(ITestOutputHelper output) : IDisposable
{
    const int Kills = 5, Tenants = 2, Examples = 16;
    static readonly string[] Labels = ["computers", "food"];

    readonly string _work = Path.Combine(Path.GetTempPath(), "loko-chaos-test-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task AfterFiveKillsEveryAcknowledgedExampleIsLearnedExactlyOnceAndThetaMatchesAnUninterruptedRun()
    {
        var settings = new ChaosSettings
        {
            Kills = Kills, Tenants = Tenants, Examples = Examples, Seed = 1, ServerPath = ServerProcess.BuiltServerPath(), WorkDirectory = _work,
        };
        var topics = TopicExamples.Make(Tenants * Examples).Select(e => new LabeledText(e.Text, e.Label)).ToArray();
        var streams = Enumerable.Range(0, Tenants).Select(t => (IReadOnlyList<LabeledText>)topics[(t * Examples)..((t + 1) * Examples)]).ToList();

        var report = await ChaosRun.RunAsync(settings, Labels, streams, output.WriteLine);
        output.WriteLine(JsonSerializer.Serialize(report, new JsonSerializerOptions { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));

        Assert.Equal(Kills, report.KillRecords.Count);
        Assert.All(report.TenantChecks, t => Assert.True(t.Passed, $"{t.Tenant}: {string.Join("; ", t.Problems)}"));
        Assert.True(report.Passed);
        Assert.All(report.TenantChecks, t => Assert.InRange(t.ThetaMaxAbsDiff, 0, 1e-6));
        // The kills struck work in progress: each cut off a client's call, and examples had to be sent again.
        int busy = report.KillRecords.Count(k => k.Moment != "idle"), interrupted = report.TenantChecks.Sum(t => t.Interruptions);
        Assert.True(interrupted >= busy, $"{busy} kills while the clients were at work, only {interrupted} calls cut off");
        Assert.True(report.Summary.Resent > 0, "no example had to be sent again");

        var tenants = streams.Select((s, i) => ChaosTenant.Make(i, settings.Seed, Labels, s, settings.CheckpointEverySteps)).ToList();
        await AssertLogAsync(Path.Combine(_work, "chaos"), tenants);
    }

    /// <summary>Straight from the SQLite store: each exampleId once, under the sequence of its place in the stream; rolled back exactly where the rollbacks were.</summary>
    static async Task AssertLogAsync(string dataDirectory, IReadOnlyList<ChaosTenant> tenants)
    {
        var options = new DbContextOptionsBuilder<SqliteLoKODbContext>().UseSqlite($"Data Source={Path.Combine(dataDirectory, "loko.db")}").Options;
        await using var db = new SqliteLoKODbContext(options);
        foreach (var tenant in tenants)
        {
            var ids = await db.ExampleIds.AsNoTracking().Where(x => x.TenantId == tenant.Id).ToDictionaryAsync(x => x.ExampleId, x => x.Sequence);
            Assert.Equal(tenant.Count, ids.Count);
            for (int i = 0; i < tenant.Count; i++) Assert.Equal(i + 1, ids[tenant.ExampleId(i)]);

            // Compaction deletes the oldest entries; those kept are distinct sequences of the stream.
            var kept = await db.Examples.AsNoTracking().Where(x => x.TenantId == tenant.Id).Select(x => new { x.Sequence, x.RolledBack }).ToListAsync();
            Assert.All(kept, x => Assert.InRange(x.Sequence, 1, tenant.Count));
            Assert.Equal(kept.Count, kept.Select(x => x.Sequence).Distinct().Count());
            var rolledBack = tenant.Cycles.SelectMany(c => Enumerable.Range(c.CheckpointAt + 1, c.RolledBack).Select(s => (long)s)).ToHashSet();
            Assert.All(kept, x => Assert.True(x.RolledBack == rolledBack.Contains(x.Sequence),
                $"{tenant.Id}: sequence {x.Sequence} is {(x.RolledBack ? "" : "not ")}marked rolled back"));
        }
    }

    public void Dispose()
    {
        try { Directory.Delete(_work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
