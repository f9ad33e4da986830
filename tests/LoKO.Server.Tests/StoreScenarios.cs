using System.Net;
using System.Text.Json;
using LoKO.Server.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LoKO.Server.Tests;

/// <summary>
/// Server scenarios that exercise the metadata store, run once per provider: <paramref name="store"/> holds the
/// settings that select it (none for the SQLite default).
/// </summary>
public sealed class StoreScenarios(string[] store)
{
    static readonly (string Text, string Label)[] Examples = TopicExamples.Make(215);

    static string TempDirectory() => Path.Combine(Path.GetTempPath(), "loko-test-" + Guid.NewGuid().ToString("N"));

    Task<LoKOTestServer> StartAsync(string data, params string[] extra) => LoKOTestServer.StartAsync(data, [.. store, .. extra]);

    /// <summary>
    /// 215 examples with idempotency keys, a checkpoint every 25 steps and 2 kept: the log keeps only what replay and
    /// rollback need, a restart replays the rest exactly, compacted keys are still recognised, a kept version can be
    /// rolled back to and a compacted one cannot, and sequences continue after the whole log has been compacted away.
    /// </summary>
    public async Task CompactionKeepsWhatReplayRollbackAndIdempotencyNeedAsync()
    {
        const string tenant = "compact";
        string[] settings = ["--LoKO:CheckpointEverySteps=25", "--LoKO:RetainCheckpoints=2", "--LoKO:CheckpointOnShutdown=false"];
        var data = TempDirectory();
        try
        {
            string key;
            float[] beforeRestart;
            await using (var first = await StartAsync(data, settings))
            {
                key = await first.CreateTenantAsync(tenant);
                for (int start = 0; start < 200; start += 25)
                    Assert.Equal(Enumerable.Range(start + 1, 25).Select(s => (long)s), await PostAsync(first, tenant, key, start, start + 25));
                await WaitForCheckpointsAsync(first, tenant, key, [7, 8]); // sequences 175 and 200

                var log = await LogAsync(first, tenant);
                Assert.Equal(Enumerable.Range(176, 25).Select(s => (long)s), log.Sequences);
                Assert.Equal(200, log.ExampleIds);
                Assert.Equal(["v00000007.safetensors", "v00000008.safetensors"], CheckpointFiles(first, tenant));

                await PostAsync(first, tenant, key, 200, 210);
                await first.WaitForAppliedAsync(tenant, key, 210);
                beforeRestart = await first.DownloadThetaAsync(tenant, key);
            }

            await using (var second = await StartAsync(data, settings))
            {
                // Checkpoint v8 (sequence 200) plus the replay of 201–210.
                var replayed = await second.WaitForAppliedAsync(tenant, key, 210);
                Assert.Equal(210, replayed.GetProperty("examplesAccepted").GetInt64());
                Assert.Equal(210, replayed.GetProperty("lastAppliedSequence").GetInt64());
                Assert.Equal(8, replayed.GetProperty("checkpointVersion").GetInt64());
                var afterRestart = await second.DownloadThetaAsync(tenant, key);
                double worst = beforeRestart.Zip(afterRestart).Max(p => Math.Abs(p.First - p.Second));
                Assert.True(worst <= 1e-6, $"θ after the restart differs by {worst:E2}");

                // Resent keys get their original sequences, whether their log entry was compacted (ex-3) or not (ex-205).
                Assert.Equal([4L, 206L], await PostAsync(second, tenant, key, [3, 205]));
                Assert.Equal(210, (await TenantAsync(second, tenant, key)).GetProperty("examplesAccepted").GetInt64());

                var (gone, problem) = await second.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/rollback", key, new { version = 3 });
                Assert.Equal(HttpStatusCode.BadRequest, gone.StatusCode);
                var message = problem.GetProperty("errors").GetProperty("version")[0].GetString()!;
                Assert.Contains("compaction", message);
                Assert.Contains("7, 8", message);

                var (rolled, rolledBack) = await second.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/rollback", key, new { version = 7 });
                Assert.Equal(HttpStatusCode.OK, rolled.StatusCode);
                Assert.Equal(175, rolledBack.GetProperty("examplesApplied").GetInt64());
                Assert.Equal(175, rolledBack.GetProperty("lastAppliedSequence").GetInt64());

                Assert.Equal(Enumerable.Range(211, 5).Select(s => (long)s), await PostAsync(second, tenant, key, 210, 215));
                await second.WaitForAppliedAsync(tenant, key, 180);
                // Two checkpoints at sequence 215: the oldest kept one covers the whole log.
                await CheckpointAsync(second, tenant, key);
                await CheckpointAsync(second, tenant, key);
                await WaitForCheckpointsAsync(second, tenant, key, [9, 10]);
                Assert.Empty((await LogAsync(second, tenant)).Sequences);
                Assert.Equal(["v00000009.safetensors", "v00000010.safetensors"], CheckpointFiles(second, tenant));
            }

            await using var third = await StartAsync(data, settings);
            var restarted = await TenantAsync(third, tenant, key);
            Assert.Equal(215, restarted.GetProperty("examplesAccepted").GetInt64());
            Assert.Equal(180, restarted.GetProperty("examplesApplied").GetInt64());
            Assert.Equal(10, restarted.GetProperty("checkpointVersion").GetInt64());
            var (post, body) = await third.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, new { text = "grilled cheese", label = "food" });
            Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
            Assert.Equal(216, body.GetProperty("sequence").GetInt64());
            Assert.Equal([1L], await PostAsync(third, tenant, key, [0]));
        }
        finally
        {
            try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>
    /// A freeze is durable: labels flipped mid-stream freeze the tenant; after a restart it is still frozen (its
    /// gauge reported before it is loaded, its events kept, nothing learned), and a resume then learns the log.
    /// </summary>
    public async Task AFreezeSurvivesARestartAndAResumeLearnsTheLogAsync()
    {
        const string tenant = "freeze-restart";
        var data = TempDirectory();
        try
        {
            string key;
            JsonElement before;
            await using (var first = await StartAsync(data, FlippedStream.Settings))
            {
                key = await first.CreateTenantAsync(tenant, seed: 3);
                var (posted, _) = await first.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, FlippedStream.Rest(0, 60));
                Assert.Equal(HttpStatusCode.Accepted, posted.StatusCode);
                before = await FlippedStream.WaitUntilAsync(first, tenant, key, t => t.GetProperty("frozen").GetBoolean(), "a freeze");
            }

            await using var second = await StartAsync(data, FlippedStream.Settings);
            // Reported before the tenant is loaded.
            await Scrape.UntilAsync(second, t => Scrape.Value(t, "loko_tenant_frozen", tenant) == 1);
            var (response, after) = await second.SendAsync(HttpMethod.Get, $"/v1/tenants/{tenant}", key);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.True(after.GetProperty("frozen").GetBoolean());
            Assert.Equal(before.GetProperty("events").GetRawText(), after.GetProperty("events").GetRawText());
            Assert.Equal(before.GetProperty("lastAppliedSequence").GetInt64(), after.GetProperty("lastAppliedSequence").GetInt64());
            Assert.Equal(before.GetProperty("checkpointVersion").GetInt64(), after.GetProperty("checkpointVersion").GetInt64());
            await Task.Delay(TimeSpan.FromSeconds(1));
            var (_, idle) = await second.SendAsync(HttpMethod.Get, $"/v1/tenants/{tenant}", key);
            Assert.Equal(before.GetProperty("lastAppliedSequence").GetInt64(), idle.GetProperty("lastAppliedSequence").GetInt64());

            Assert.Contains("rolled back to checkpoint v4 (sequence 40)", after.GetProperty("events")[0].GetProperty("reason").GetString());
            var log = await FlippedStream.LogAsync(second, tenant);
            for (long sequence = 41; sequence <= 60; sequence++) Assert.Equal((false, false), log[sequence]);

            var (resumed, _) = await second.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/resume", key);
            Assert.Equal(HttpStatusCode.OK, resumed.StatusCode);
            var done = await FlippedStream.WaitUntilAsync(second, tenant, key, t => t.GetProperty("lastAppliedSequence").GetInt64() == 60, "the replay");
            Assert.Equal(60, done.GetProperty("examplesApplied").GetInt64() + done.GetProperty("examplesRejected").GetInt64());
        }
        finally
        {
            try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>
    /// Two tenants of one gradient baseline with one seed learn the same 60 examples: one straight through, the other
    /// with a graceful restart after 30. The shutdown checkpoint carries the optimizer's state (AdamW's moments and
    /// step, AdaGrad's sum of squared gradients and step; plain SGD has none), so both end with the same θ.
    /// </summary>
    public async Task AGradientBaselineContinuesExactlyAcrossAGracefulRestartAsync(string optimizer)
    {
        var data = TempDirectory();
        string straightTenant = $"{optimizer}-straight", restartedTenant = $"{optimizer}-restarted";
        try
        {
            string straightKey, restartedKey;
            await using (var first = await StartAsync(data))
            {
                straightKey = await first.CreateTenantAsync(straightTenant, optimizer: optimizer, seed: 42);
                restartedKey = await first.CreateTenantAsync(restartedTenant, optimizer: optimizer, seed: 42);
                await PostAsync(first, straightTenant, straightKey, 0, 60);
                await PostAsync(first, restartedTenant, restartedKey, 0, 30);
                await first.WaitForAppliedAsync(straightTenant, straightKey, 60);
                await first.WaitForAppliedAsync(restartedTenant, restartedKey, 30);
            }

            await using var second = await StartAsync(data);
            var described = await TenantAsync(second, restartedTenant, restartedKey);
            Assert.Equal(optimizer, described.GetProperty("optimizer").GetString());
            Assert.Equal(1, described.GetProperty("checkpointVersion").GetInt64());
            await PostAsync(second, restartedTenant, restartedKey, 30, 60);
            await second.WaitForAppliedAsync(restartedTenant, restartedKey, 60);
            var straight = await second.DownloadThetaAsync(straightTenant, straightKey);
            var restarted = await second.DownloadThetaAsync(restartedTenant, restartedKey);
            double worst = straight.Zip(restarted).Max(p => Math.Abs(p.First - p.Second));
            Assert.True(worst <= 1e-6, $"θ of the restarted {optimizer} tenant differs from the straight run by {worst:E2}");
        }
        finally
        {
            try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>
    /// Eight clients append to one tenant at once, each with its own keys and with keys that all of them send:
    /// every example gets one sequence, the sequences are 1…n without gaps, and a raced key is accepted once.
    /// Deleting the tenant then removes its log and keys with it.
    /// </summary>
    public async Task ConcurrentAppendsGetDistinctGaplessSequencesAsync()
    {
        const string tenant = "crowd";
        const int clients = 8, perClient = 10, shared = 5;
        var data = TempDirectory();
        try
        {
            await using var server = await StartAsync(data);
            var key = await server.CreateTenantAsync(tenant);
            var results = await Task.WhenAll(Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
            {
                var got = new List<(string Id, long Sequence)>();
                for (int i = 0; i < perClient; i++)
                {
                    foreach (var id in i < shared ? new[] { $"client{c}-{i}", $"shared-{i}" } : [$"client{c}-{i}"])
                    {
                        var (text, label) = Examples[i];
                        var (response, body) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, new { text, label, exampleId = id });
                        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
                        got.Add((id, body.GetProperty("sequence").GetInt64()));
                    }
                }
                return got;
            })));

            var byId = results.SelectMany(r => r).GroupBy(r => r.Id).ToDictionary(g => g.Key, g => g.Select(r => r.Sequence).Distinct().ToList());
            Assert.All(byId, kv => Assert.Single(kv.Value));
            const int distinct = clients * perClient + shared;
            Assert.Equal(distinct, byId.Count);
            Assert.Equal(Enumerable.Range(1, distinct).Select(s => (long)s), byId.Values.Select(v => v[0]).Order());
            var tenantNow = await server.WaitForAppliedAsync(tenant, key, distinct);
            Assert.Equal(distinct, tenantNow.GetProperty("examplesAccepted").GetInt64());
            Assert.Equal(distinct, (await LogAsync(server, tenant)).Sequences.Count);

            var (deleted, _) = await server.SendAsync(HttpMethod.Delete, $"/v1/tenants/{tenant}", key);
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
            var gone = await LogAsync(server, tenant);
            Assert.Empty(gone.Sequences);
            Assert.Equal(0, gone.ExampleIds);
        }
        finally
        {
            try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        }
    }

    static async Task<IReadOnlyList<long>> PostAsync(LoKOTestServer server, string tenant, string key, int from, int to) =>
        await PostAsync(server, tenant, key, Enumerable.Range(from, to - from));

    /// <summary>Examples[i] with key "ex-i", as one batch; returns the sequences.</summary>
    static async Task<IReadOnlyList<long>> PostAsync(LoKOTestServer server, string tenant, string key, IEnumerable<int> indices)
    {
        var batch = indices.Select(i => new { text = Examples[i].Text, label = Examples[i].Label, exampleId = $"ex-{i}" }).ToArray();
        var (response, body) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, batch);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return body.GetProperty("sequences").EnumerateArray().Select(s => s.GetInt64()).ToList();
    }

    static async Task<JsonElement> TenantAsync(LoKOTestServer server, string tenant, string key)
    {
        var (response, body) = await server.SendAsync(HttpMethod.Get, $"/v1/tenants/{tenant}", key);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return body;
    }

    static async Task CheckpointAsync(LoKOTestServer server, string tenant, string key)
    {
        var (response, _) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/checkpoints", key);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    /// <summary>Until the checkpoint list is exactly <paramref name="versions"/> (compaction runs right after a checkpoint).</summary>
    static async Task WaitForCheckpointsAsync(LoKOTestServer server, string tenant, string key, long[] versions)
    {
        // Generous: it can wait for 200 filter steps, which take minutes on a busy 2-core machine.
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(10);
        while (true)
        {
            var (response, list) = await server.SendAsync(HttpMethod.Get, $"/v1/tenants/{tenant}/checkpoints", key);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var got = list.EnumerateArray().Select(c => c.GetProperty("version").GetInt64()).ToArray();
            if (got.SequenceEqual(versions)) return;
            if (DateTime.UtcNow > deadline) Assert.Fail($"checkpoints are [{string.Join(", ", got)}], not [{string.Join(", ", versions)}]");
            await Task.Delay(100);
        }
    }

    /// <summary>The tenant's log sequences and idempotency-key count, straight from the metadata store.</summary>
    static async Task<(List<long> Sequences, int ExampleIds)> LogAsync(LoKOTestServer server, string tenant)
    {
        await using var db = await server.Services.GetRequiredService<IDbContextFactory<LoKODbContext>>().CreateDbContextAsync();
        var sequences = await db.Examples.Where(x => x.TenantId == tenant).OrderBy(x => x.Sequence).Select(x => x.Sequence).ToListAsync();
        return (sequences, await db.ExampleIds.CountAsync(x => x.TenantId == tenant));
    }

    static string[] CheckpointFiles(LoKOTestServer server, string tenant) =>
        [.. Directory.EnumerateFiles(Path.Combine(server.DataDirectory, "checkpoints", tenant)).Select(Path.GetFileName).Order(StringComparer.Ordinal)!];
}
