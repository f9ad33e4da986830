using System.Net;
using System.Text.Json;
using Grpc.Core;
using LoKO.Server.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using V1 = LoKO.Contracts.V1;

namespace LoKO.Server.Tests;

/// <summary>
/// Storage that refuses writes under the real server (<see cref="Unwritable"/>): the SQLite store, then the tenant's
/// checkpoint folder. Appends are answered 503 and never acknowledged, the tenant keeps serving, and once the fault
/// clears the server recovers by itself; what was acknowledged is learned exactly as in a run without the fault.
/// </summary>
public class StorageFaultTests
{
    static readonly (string Text, string Label)[] Examples = TopicExamples.Make(8);

    static object Body((string Text, string Label) e) => new { text = e.Text, label = e.Label };

    static string TempDirectory() => Path.Combine(Path.GetTempPath(), "loko-test-" + Guid.NewGuid().ToString("N"));

    static void AssertClose(IReadOnlyList<float> expected, IReadOnlyList<float> actual, string what)
    {
        Assert.Equal(expected.Count, actual.Count);
        double worst = expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(worst <= 1e-6, $"{what}: θ differs by {worst:E2}");
    }

    static void AssertUnavailable(HttpResponseMessage response, JsonElement body, string retryAfter)
    {
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(retryAfter, response.Headers.RetryAfter?.Delta?.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(503, body.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("detail").GetString()));
    }

    static async Task<V1.Ack> LearnOneAsync(LoKOTestServer server, string key, string tenant, (string Text, string Label) e)
    {
        using var call = server.Grpc.Learn(LoKOTestServer.Bearer(key));
        await call.RequestStream.WriteAsync(new V1.Example { TenantId = tenant, Input = new V1.Input { Text = e.Text }, Label = e.Label });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        var ack = call.ResponseStream.Current;
        Assert.False(await call.ResponseStream.MoveNext(CancellationToken.None));
        return ack;
    }

    [StorageFaultFact]
    public async Task WhileTheDatabaseIsReadOnlyAppendsAre503AndNeverAcknowledgedAndOnceWritableTheServerRecoversByItself()
    {
        await using var server = await LoKOTestServer.StartAsync(null, "--LoKO:StorageRetrySeconds=2");
        const string tenant = "steady";
        var key = await server.CreateTenantAsync(tenant, seed: 5);
        var (batch, _) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, Examples[..3].Select(Body).ToArray());
        Assert.Equal(HttpStatusCode.Accepted, batch.StatusCode);
        await server.WaitForAppliedAsync(tenant, key, 3);

        using (Unwritable.Make(Unwritable.Database(server.DataDirectory)))
        {
            var (single, singleBody) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, Body(Examples[3]));
            AssertUnavailable(single, singleBody, "2");
            var (many, manyBody) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, Examples[3..5].Select(Body).ToArray());
            AssertUnavailable(many, manyBody, "2");
            var refused = await Assert.ThrowsAsync<RpcException>(() => LearnOneAsync(server, key, tenant, Examples[3]));
            Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
            Assert.Equal("2", refused.Trailers.GetValue("retry-after"));

            // It keeps serving: a prediction (without a predictionId, which the store could not keep) and its description.
            var (predicted, prediction) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/predict", key, new { text = "reboot the router" });
            Assert.Equal(HttpStatusCode.OK, predicted.StatusCode);
            Assert.False(prediction.TryGetProperty("predictionId", out var id) && id.ValueKind == JsonValueKind.String);
            var (described, description) = await server.SendAsync(HttpMethod.Get, $"/v1/tenants/{tenant}", key);
            Assert.Equal(HttpStatusCode.OK, described.StatusCode);
            Assert.Equal(3, description.GetProperty("examplesAccepted").GetInt64());
        }

        // Writable again: the very next append is acknowledged, with the next sequence; nothing refused was logged.
        var (post, posted) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, Body(Examples[3]));
        Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
        Assert.Equal(4, posted.GetProperty("sequence").GetInt64());
        var ack = await LearnOneAsync(server, key, tenant, Examples[4]);
        Assert.Equal(V1.AckStatus.Accepted, ack.Status);
        Assert.Equal(5, ack.Sequence);
        var t = await server.WaitForAppliedAsync(tenant, key, 5);
        Assert.Equal(5, t.GetProperty("examplesAccepted").GetInt64());
        Assert.Equal(5, t.GetProperty("examplesApplied").GetInt64());
        await using (var db = await server.Services.GetRequiredService<IDbContextFactory<LoKODbContext>>().CreateDbContextAsync())
            Assert.Equal([1L, 2, 3, 4, 5], await db.Examples.Where(x => x.TenantId == tenant).OrderBy(x => x.Sequence).Select(x => x.Sequence).ToListAsync());

        // The same seed and the acknowledged examples alone, never refused: the same θ.
        var referenceKey = await server.CreateTenantAsync("steady-reference", seed: 5);
        var (reference, _) = await server.SendAsync(HttpMethod.Post, "/v1/tenants/steady-reference/examples", referenceKey, Examples[..5].Select(Body).ToArray());
        Assert.Equal(HttpStatusCode.Accepted, reference.StatusCode);
        await server.WaitForAppliedAsync("steady-reference", referenceKey, 5);
        AssertClose(await server.DownloadThetaAsync("steady-reference", referenceKey), await server.DownloadThetaAsync(tenant, key), tenant);

        var metrics = await Scrape.GetAsync(server);
        Assert.Equal(3, Scrape.Value(metrics, "loko_storage_failures_total", tenant, "operation=\"append\""));
    }

    [StorageFaultFact]
    public async Task ACheckpointThatCannotBeWrittenLeavesTheTenantLearningAndIsWrittenOnceTheFolderIsWritableAgain()
    {
        var data = TempDirectory();
        string[] settings = ["--LoKO:CheckpointEverySteps=2", "--LoKO:StorageRetrySeconds=1", "--LoKO:CheckpointOnShutdown=false"];
        const string tenant = "scribe";
        try
        {
            string key;
            float[] learned;
            await using (var server = await LoKOTestServer.StartAsync(data, settings))
            {
                key = await server.CreateTenantAsync(tenant, seed: 3);
                var (first, _) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, Examples[..2].Select(Body).ToArray());
                Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
                await FlippedStream.WaitUntilAsync(server, tenant, key, t => t.GetProperty("checkpointVersion").GetInt64() == 1, "checkpoint v1");

                using (Unwritable.Make(Path.Combine(data, "checkpoints", tenant)))
                {
                    var (more, _) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, Examples[2..6].Select(Body).ToArray());
                    Assert.Equal(HttpStatusCode.Accepted, more.StatusCode);
                    var t = await server.WaitForAppliedAsync(tenant, key, 6);
                    Assert.Equal(6, t.GetProperty("examplesApplied").GetInt64());
                    Assert.Equal(1, t.GetProperty("checkpointVersion").GetInt64());
                    var (checkpoint, body) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/checkpoints", key);
                    AssertUnavailable(checkpoint, body, "1");
                    var (predicted, _) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/predict", key, new { text = "reboot the router" });
                    Assert.Equal(HttpStatusCode.OK, predicted.StatusCode);
                    var metrics = await Scrape.GetAsync(server);
                    Assert.True(Scrape.Value(metrics, "loko_storage_failures_total", tenant, "operation=\"checkpoint\"") >= 2, metrics);
                    Assert.Empty(Directory.EnumerateFiles(Path.Combine(data, "checkpoints", tenant), "*.tmp"));
                }

                // Nothing new to learn: the loop's own retry writes the checkpoint.
                await FlippedStream.WaitUntilAsync(server, tenant, key, t => t.GetProperty("checkpointVersion").GetInt64() > 1, "the retried checkpoint");
                learned = await server.DownloadThetaAsync(tenant, key);
            }

            // The retried checkpoint holds all six steps: a restart has nothing to replay and loads it as it is.
            await using var restarted = await LoKOTestServer.StartAsync(data, settings);
            var after = await restarted.WaitForAppliedAsync(tenant, key, 6);
            Assert.Equal(6, after.GetProperty("lastAppliedSequence").GetInt64());
            Assert.Equal(0, after.GetProperty("queueDepth").GetInt64());
            AssertClose(learned, await restarted.DownloadThetaAsync(tenant, key), tenant);
            Assert.Null(Scrape.Value(await Scrape.GetAsync(restarted), "loko_checkpoint_fallbacks_total", tenant));
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public void StorageFaultsAreWhatTheStoreOrFileSystemRefusesNotBugsOrBadRequests()
    {
        Assert.True(StorageFaults.IsStorageFault(new SqliteException("attempt to write a readonly database", 8)));
        Assert.True(StorageFaults.IsStorageFault(new DbUpdateException("save failed", new SqliteException("database or disk is full", 13))));
        Assert.True(StorageFaults.IsStorageFault(new UnauthorizedAccessException("Access to the path is denied.")));
        Assert.True(StorageFaults.IsStorageFault(new IOException("No space left on device")));
        Assert.False(StorageFaults.IsStorageFault(new SqliteException("UNIQUE constraint failed", 19)));
        Assert.False(StorageFaults.IsStorageFault(new SqliteException("no such table: examples", 1)));
        Assert.False(StorageFaults.IsStorageFault(new InvalidOperationException("a bug")));
    }
}
