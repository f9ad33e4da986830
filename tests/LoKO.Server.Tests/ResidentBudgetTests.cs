using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using LoKO.Server.Tenants;
using Microsoft.Extensions.DependencyInjection;

namespace LoKO.Server.Tests;

/// <summary>
/// A server that keeps two tenants resident: the least recently used one is checkpointed and unloaded, and reloads
/// unchanged; the one next in line writes its checkpoint back ahead of its eviction.
/// </summary>
public class ResidentBudgetTests
{
    static readonly (string Text, string Label)[] Examples =
    [
        ("the printer driver crashed", "computers"),
        ("roast the vegetables with olive oil", "food"),
        ("upgrade the database server", "computers"),
    ];

    const string Probe = "my laptop will not boot";

    static async Task<string> CreateAndTrainAsync(LoKOTestServer server, string tenant)
    {
        var key = await server.CreateTenantAsync(tenant);
        var (posted, _) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key,
            Examples.Select(e => new { text = e.Text, label = e.Label }).ToArray());
        Assert.Equal(HttpStatusCode.Accepted, posted.StatusCode);
        await server.WaitForAppliedAsync(tenant, key, Examples.Length);
        return key;
    }

    static async Task<Dictionary<string, double>> PredictAsync(LoKOTestServer server, string tenant, string key)
    {
        var (response, body) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/predict", key, new { text = Probe });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return body.GetProperty("probabilities").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble());
    }

    /// <summary>The tenant's checkpoints, read from the store only (this does not load the tenant).</summary>
    static async Task<JsonElement[]> CheckpointsAsync(LoKOTestServer server, string tenant, string key)
    {
        var (response, body) = await server.SendAsync(HttpMethod.Get, $"/v1/tenants/{tenant}/checkpoints", key);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return body.EnumerateArray().ToArray();
    }

    /// <summary>Until the tenant has a checkpoint: written as it was evicted, or as it came next in line for eviction.</summary>
    static async Task WaitForEvictionAsync(LoKOTestServer server, string tenant, string key)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while ((await CheckpointsAsync(server, tenant, key)).Length == 0)
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"tenant {tenant} was not checkpointed by an eviction or a write-back");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task TheTenantNextInLineWritesBackWhileResidentSoItsEvictionHasNothingToWrite()
    {
        await using var server = await LoKOTestServer.StartAsync(null, "--LoKO:MaxResidentTenants=2");
        var resident = server.Services.GetRequiredService<ResidentTenants>();
        await CreateAndTrainAsync(server, "wb-first");
        long perTenant = resident.Bytes; // one tenant resident (all four have the same footprint)
        var secondKey = await CreateAndTrainAsync(server, "wb-second");
        var before = await PredictAsync(server, "wb-second", secondKey);
        var thetaBefore = await server.DownloadThetaAsync("wb-second", secondKey);
        Assert.Empty(await CheckpointsAsync(server, "wb-second", secondKey)); // two fit: no eviction is coming yet

        // The third evicts the first; the second, next in line and idle, checkpoints while it is still resident.
        await CreateAndTrainAsync(server, "wb-third");
        await WaitForEvictionAsync(server, "wb-second", secondKey);
        var written = Assert.Single(await CheckpointsAsync(server, "wb-second", secondKey));
        Assert.Equal(Examples.Length, written.GetProperty("examplesApplied").GetInt64());
        Assert.Equal(Examples.Length, written.GetProperty("lastAppliedSequence").GetInt64());

        // The fourth evicts the second. Once its deactivation has ended (its memory no longer counts), it has
        // written nothing more: the eviction had nothing left to save.
        await CreateAndTrainAsync(server, "wb-fourth");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (resident.DepartingBytes != 0)
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"the evicted tenant's memory still counts: {resident.DepartingBytes} bytes departing");
            await Task.Delay(50);
        }
        Assert.Equal(2 * perTenant, resident.Bytes);
        Assert.Equal(written.GetProperty("version").GetInt64(), Assert.Single(await CheckpointsAsync(server, "wb-second", secondKey)).GetProperty("version").GetInt64());

        // Loaded again from that checkpoint: every acknowledged example, nothing to replay, the same adapter.
        var (response, tenant) = await server.SendAsync(HttpMethod.Get, "/v1/tenants/wb-second", secondKey);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Examples.Length, tenant.GetProperty("examplesAccepted").GetInt64());
        Assert.Equal(Examples.Length, tenant.GetProperty("examplesApplied").GetInt64());
        Assert.Equal(written.GetProperty("version").GetInt64(), tenant.GetProperty("checkpointVersion").GetInt64());
        Assert.Equal(0, tenant.GetProperty("queueDepth").GetInt64());
        Assert.Equal(before, await PredictAsync(server, "wb-second", secondKey));
        Assert.Equal(thetaBefore, await server.DownloadThetaAsync("wb-second", secondKey));
    }

    [Fact]
    public async Task TheLeastRecentlyUsedTenantIsEvictedAndReloadsWithIdenticalState()
    {
        await using var server = await LoKOTestServer.StartAsync(null, "--LoKO:MaxResidentTenants=2");

        var firstKey = await CreateAndTrainAsync(server, "lru-first");
        var before = await PredictAsync(server, "lru-first", firstKey);
        var thetaBefore = await server.DownloadThetaAsync("lru-first", firstKey);
        Assert.Empty(await CheckpointsAsync(server, "lru-first", firstKey)); // nothing but an eviction writes one here

        var secondKey = await CreateAndTrainAsync(server, "lru-second");
        await CreateAndTrainAsync(server, "lru-third");

        // The third activation evicted the first tenant: it checkpointed everything it had learned as it went.
        await WaitForEvictionAsync(server, "lru-first", firstKey);
        var checkpoint = Assert.Single(await CheckpointsAsync(server, "lru-first", firstKey));
        Assert.Equal(Examples.Length, checkpoint.GetProperty("examplesApplied").GetInt64());
        // The second is next in line: it writes its checkpoint back ahead of its eviction.
        await WaitForEvictionAsync(server, "lru-second", secondKey);
        var metrics = await Scrape.UntilAsync(server, t => Regex.IsMatch(t, @"(?m)^loko_tenants_resident\{[^}]*\} 2(\s|$)"));
        Assert.Matches(@"(?m)^loko_tenants_resident_memory_bytes\{[^}]*\} [1-9]", metrics);

        // Its next use reloads it from that checkpoint (evicting the second tenant, now the least recently used).
        var (response, tenant) = await server.SendAsync(HttpMethod.Get, "/v1/tenants/lru-first", firstKey);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Examples.Length, tenant.GetProperty("examplesApplied").GetInt64());
        Assert.Equal(Examples.Length, tenant.GetProperty("lastAppliedSequence").GetInt64());
        Assert.Equal(checkpoint.GetProperty("version").GetInt64(), tenant.GetProperty("checkpointVersion").GetInt64());
        Assert.Equal(0, tenant.GetProperty("queueDepth").GetInt64());
        Assert.Equal(before, await PredictAsync(server, "lru-first", firstKey));
        Assert.Equal(thetaBefore, await server.DownloadThetaAsync("lru-first", firstKey));
        await WaitForEvictionAsync(server, "lru-second", secondKey);
    }
}
