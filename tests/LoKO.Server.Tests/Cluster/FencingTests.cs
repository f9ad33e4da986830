using System.Net;
using System.Text.Json;
using LoKO.Server.Storage;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace LoKO.Server.Tests.Cluster;

/// <summary>
/// Two activations of one tenant at once, forced: two servers that are each their own one-silo cluster, on one
/// PostgreSQL metadata store with the checkpoints in it, both serving the same tenant. Each activation takes a new
/// epoch; the one that lost it cannot append or checkpoint (503, nothing written, no acknowledgement), deactivates,
/// and whatever either acknowledged is in the log once, in order.
/// </summary>
public sealed class FencingTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>, IAsyncLifetime
{
    const string Tenant = "fenced";
    static readonly (string Text, string Label)[] Examples = TopicExamples.Make(20);

    readonly List<ClusterNode> _nodes = [];
    readonly List<string> _directories = [];

    [PostgresFact]
    public async Task AStaleActivationCannotAppendOrCheckpointAndEveryAcknowledgedExampleIsLoggedOnce()
    {
        // No automatic checkpoint: every write below is one the test makes.
        string[] settings = [.. database.ServerArgs, "--LoKO:CheckpointStore=Database", "--LoKO:CheckpointEverySteps=100000"];
        var a = await StartAsync("a", settings);
        var b = await StartAsync("b", settings);

        var (created, body) = await a.SendAsync(HttpMethod.Post, "/v1/tenants", LoKOTestServer.AdminKey,
            new { tenantId = Tenant, preset = "minilm-l6", labels = new[] { "computers", "food" }, lora = new { rank = 2 }, seed = 5 });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var key = body.GetProperty("apiKey").GetString()!;

        Assert.Equal([1L, 2, 3, 4, 5], await AppendAsync(a, key, 0, 5));
        Assert.Equal(1, a.Activations[Tenant]);
        // B's activation takes epoch 2 and reads the log A wrote.
        Assert.Equal([6L, 7, 8, 9, 10], await AppendAsync(b, key, 5, 10));
        Assert.Equal(2, b.Activations[Tenant]);

        // A's activation still holds epoch 1: its append is refused, unacknowledged and unwritten.
        var (refused, problem) = await PostAsync(a, key, 10, 15);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.Contains("another activation", problem.GetProperty("detail").GetString());
        Assert.Empty(await ExampleIdsAsync(10, 15));

        // It deactivated: the same request through A now finds a new activation (epoch 3), which takes the examples once.
        Assert.Equal([11L, 12, 13, 14, 15], await AppendAsync(a, key, 10, 15, retries: 10));
        Assert.Equal(3, a.Activations[Tenant]);

        // B's activation is the stale one now: its checkpoint commits nothing.
        var (stale, _) = await b.SendAsync(HttpMethod.Post, $"/v1/tenants/{Tenant}/checkpoints", key);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, stale.StatusCode);
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM checkpoints"));

        var (checkpointed, checkpoint) = await a.SendAsync(HttpMethod.Post, $"/v1/tenants/{Tenant}/checkpoints", key);
        Assert.Equal(HttpStatusCode.Created, checkpointed.StatusCode);
        Assert.Equal(1, checkpoint.GetProperty("version").GetInt64());
        var learned = await a.WaitAppliedAsync(Tenant, 15);
        Assert.Equal(15, learned.ExamplesAccepted);
        Assert.Equal(15, learned.LastAppliedSequence);

        // Straight from the store: each acknowledged exampleId once, under the sequence of its place; one log entry per sequence.
        var ids = await ExampleIdsAsync(0, 15);
        Assert.Equal(Enumerable.Range(0, 15).Select(i => ($"x{i}", (long)i + 1)), ids);
        // (Compaction after the checkpoint deleted the entries it covers; those left are each there once.)
        Assert.Equal(await CountAsync("SELECT count(*) FROM examples"), await CountAsync("SELECT count(DISTINCT \"Sequence\") FROM examples"));
        Assert.Equal(15, await CountAsync("SELECT max(\"Sequence\") FROM examples"));
        Assert.Equal(3, await CountAsync("SELECT \"Epoch\" FROM tenants"));
    }

    async Task<IReadOnlyList<long>> AppendAsync(ClusterNode node, string key, int from, int to, int retries = 0)
    {
        for (int attempt = 0; ; attempt++)
        {
            var (response, body) = await PostAsync(node, key, from, to);
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable && attempt < retries)
            {
                await Task.Delay(TimeSpan.FromSeconds(1));
                continue;
            }
            Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{node.Name}: {(int)response.StatusCode} {body}\n{node.OutputTail()}");
            return body.GetProperty("sequences").EnumerateArray().Select(s => s.GetInt64()).ToList();
        }
    }

    static Task<(HttpResponseMessage Response, JsonElement Body)> PostAsync(ClusterNode node, string key, int from, int to) =>
        node.SendAsync(HttpMethod.Post, $"/v1/tenants/{Tenant}/examples", key,
            Enumerable.Range(from, to - from).Select(i => new { text = Examples[i].Text, label = Examples[i].Label, exampleId = $"x{i}" }).ToArray());

    async Task<List<(string, long)>> ExampleIdsAsync(int from, int to)
    {
        var wanted = Enumerable.Range(from, to - from).Select(i => $"x{i}").ToList();
        await using var db = Store();
        return (await db.ExampleIds.AsNoTracking().Where(x => x.TenantId == Tenant && wanted.Contains(x.ExampleId)).OrderBy(x => x.Sequence).ToListAsync())
            .ConvertAll(x => (x.ExampleId, x.Sequence));
    }

    async Task<long> CountAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    PostgresLoKODbContext Store() =>
        new(new DbContextOptionsBuilder<PostgresLoKODbContext>().UseNpgsql(database.ConnectionString).Options);

    async Task<ClusterNode> StartAsync(string name, string[] settings)
    {
        var directory = Path.Combine(Path.GetTempPath(), "loko-fencing-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        _directories.Add(directory);
        var node = await ClusterNode.StartAsync(name, directory, settings);
        _nodes.Add(node);
        return node;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes) await node.DisposeAsync();
        foreach (var directory in _directories)
        {
            try { Directory.Delete(directory, recursive: true); } catch (IOException) { }
        }
    }
}
