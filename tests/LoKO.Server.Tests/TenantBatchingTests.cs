using System.Net;
using LoKO.Server.Compute;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace LoKO.Server.Tests;

/// <summary>
/// LoKO:BatchTenants on the real server: 8 tenants learning at once, their steps batched across tenants, end with the
/// applied counts of the same run with batching off and a θ that differs by float rounding only: within 0.1% of how far
/// θ moved (L2). Measured: rounding left θ within 2e-5 of it; a batch whose padded rows learned wrongly was 23–75% off.
/// </summary>
public sealed class TenantBatchingTests(ITestOutputHelper output)
{
    const int Tenants = 8, Examples = 16;

    static string Optimizer(int k) => k % 2 == 0 ? "loko" : "adamw";

    /// <summary>Every tenant's counters and θ (before and after) after learning its examples, all tenants posting at once.</summary>
    async Task<(long[] Applied, long[] Last, float[][] Before, float[][] After, (long Batches, long SharedSteps) Counts)> RunAsync(params string[] settings)
    {
        await using var server = await LoKOTestServer.StartAsync(null, settings);
        var keys = new string[Tenants];
        var before = new float[Tenants][];
        for (int k = 0; k < Tenants; k++)
        {
            keys[k] = await server.CreateTenantAsync($"batch-{k}", optimizer: Optimizer(k), seed: 100 + k);
            before[k] = await server.DownloadThetaAsync($"batch-{k}", keys[k]);
        }
        var all = TopicExamples.Make(Examples + Tenants);
        await Task.WhenAll(Enumerable.Range(0, Tenants).Select(async k =>
        {
            // Tenant k's stream starts k examples in: no two tenants learn the same sequence.
            var examples = all.Skip(k).Take(Examples).Select(e => new { text = e.Text, label = e.Label }).ToArray();
            var (response, _) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/batch-{k}/examples", keys[k], examples);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }));
        var applied = new long[Tenants];
        var last = new long[Tenants];
        var after = new float[Tenants][];
        for (int k = 0; k < Tenants; k++)
        {
            var tenant = await server.WaitForAppliedAsync($"batch-{k}", keys[k], Examples);
            applied[k] = tenant.GetProperty("examplesApplied").GetInt64();
            last[k] = tenant.GetProperty("lastAppliedSequence").GetInt64();
            after[k] = await server.DownloadThetaAsync($"batch-{k}", keys[k]);
        }
        return (applied, last, before, after, server.Services.GetRequiredService<ComputeExecutor>().BatchCounts);
    }

    [Fact]
    public async Task EightTenantsLearnWithBatchingOnAsWithItOff()
    {
        var off = await RunAsync();
        var on = await RunAsync("--LoKO:BatchTenants:MaxTenants=8", "--LoKO:BatchTenants:MaxWaitMs=20");
        output.WriteLine($"batching on: {on.Counts.Batches} batches, {on.Counts.SharedSteps} of {Tenants * Examples} steps in a shared pass");
        Assert.Equal((0L, 0L), off.Counts);
        Assert.True(on.Counts.SharedSteps >= Tenants * Examples / 2, $"only {on.Counts.SharedSteps} steps shared a pass ({on.Counts.Batches} batches)");
        var failures = new List<string>();
        for (int k = 0; k < Tenants; k++)
        {
            Assert.Equal(Examples, off.Applied[k]);
            Assert.Equal(off.Applied[k], on.Applied[k]);
            Assert.Equal(off.Last[k], on.Last[k]);
            Assert.Equal(off.Before[k], on.Before[k]);
            double moved = Norm(off.After[k], off.Before[k]), diff = Norm(off.After[k], on.After[k]);
            double maxMoved = off.After[k].Zip(off.Before[k]).Max(p => Math.Abs(p.First - p.Second));
            double maxDiff = off.After[k].Zip(on.After[k]).Max(p => Math.Abs(p.First - p.Second));
            output.WriteLine($"tenant {k} ({Optimizer(k)}): θ moved {moved:E3} (L2; max {maxMoved:E3}), batched differs by {diff:E3} (max {maxDiff:E3})");
            if (moved <= 1e-4) failures.Add($"tenant {k}: θ should have moved");
            if (diff > 1e-3 * moved) failures.Add($"tenant {k} ({Optimizer(k)}): θ with batching on differs by {diff:E3}, more than 0.1% of its movement {moved:E3}");
        }
        Assert.Empty(failures);
    }

    static double Norm(float[] x, float[] y) => Math.Sqrt(x.Zip(y).Sum(p => (double)(p.First - p.Second) * (p.First - p.Second)));
}
