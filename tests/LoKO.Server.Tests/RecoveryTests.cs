using System.Net;

namespace LoKO.Server.Tests;

/// <summary>Tests that stop and start servers on one data directory (not the shared server).</summary>
public class RecoveryTests
{
    static readonly (string Text, string Label)[] Examples =
    [
        ("the printer driver crashed", "computers"),
        ("roast the vegetables with olive oil", "food"),
        ("upgrade the database server", "computers"),
        ("a bowl of ramen with egg", "food"),
        ("the network cable is unplugged", "computers"),
    ];

    static async Task PostAllAsync(LoKOTestServer server, string tenant, string key, IEnumerable<(string Text, string Label)> examples)
    {
        foreach (var (text, label) in examples)
        {
            var (response, _) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, new { text, label });
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }
    }

    static string TempDirectory() => Path.Combine(Path.GetTempPath(), "loko-test-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task AfterAGracefulRestartTheTenantItsCountsAndThetaSurvive()
    {
        var data = TempDirectory();
        try
        {
            string key;
            float[] before;
            await using (var first = await LoKOTestServer.StartAsync(data))
            {
                key = await first.CreateTenantAsync("survivor");
                await PostAllAsync(first, "survivor", key, Examples);
                await first.WaitForAppliedAsync("survivor", key, Examples.Length);
                before = await first.DownloadThetaAsync("survivor", key);
            }
            Assert.True(File.Exists(Path.Combine(data, "loko.db")));

            await using var second = await LoKOTestServer.StartAsync(data);
            var (response, tenant) = await second.SendAsync(HttpMethod.Get, "/v1/tenants/survivor", key);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(Examples.Length, tenant.GetProperty("examplesApplied").GetInt64());
            Assert.Equal(Examples.Length, tenant.GetProperty("examplesAccepted").GetInt64());
            Assert.Equal(1, tenant.GetProperty("checkpointVersion").GetInt64()); // written at shutdown
            Assert.Equal(before, await second.DownloadThetaAsync("survivor", key));

            // The sequence continues where it stopped.
            var (post, body) = await second.SendAsync(HttpMethod.Post, "/v1/tenants/survivor/examples", key, new { text = "grilled cheese", label = "food" });
            Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
            Assert.Equal(Examples.Length + 1, body.GetProperty("sequence").GetInt64());
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task WithoutAShutdownCheckpointARestartReplaysTheLogAfterTheLatestCheckpoint()
    {
        var data = TempDirectory();
        string[] crashLike = ["--LoKO:CheckpointOnShutdown=false", "--LoKO:CheckpointEverySteps=3"];
        try
        {
            string key;
            float[] before;
            await using (var first = await LoKOTestServer.StartAsync(data, crashLike))
            {
                key = await first.CreateTenantAsync("replayer");
                await PostAllAsync(first, "replayer", key, Examples);
                var t = await first.WaitForAppliedAsync("replayer", key, Examples.Length);
                Assert.Equal(1, t.GetProperty("checkpointVersion").GetInt64()); // after 3 steps
                before = await first.DownloadThetaAsync("replayer", key);
            }

            await using var second = await LoKOTestServer.StartAsync(data, crashLike);
            var tenant = await second.WaitForAppliedAsync("replayer", key, Examples.Length);
            Assert.Equal(Examples.Length, tenant.GetProperty("examplesApplied").GetInt64());
            Assert.Equal(Examples.Length, tenant.GetProperty("lastAppliedSequence").GetInt64());
            var after = await second.DownloadThetaAsync("replayer", key);
            Assert.Equal(before.Length, after.Length);
            double worst = before.Zip(after).Max(p => Math.Abs(p.First - p.Second));
            Assert.True(worst <= 1e-6, $"θ after replay differs by {worst:E2}");
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task RollbackRestoresACheckpointAndDiscardsLaterExamples()
    {
        await using var server = await LoKOTestServer.StartAsync();
        var key = await server.CreateTenantAsync("rewind");
        await PostAllAsync(server, "rewind", key, Examples[..2]);
        await server.WaitForAppliedAsync("rewind", key, 2);
        var (created, checkpoint) = await server.SendAsync(HttpMethod.Post, "/v1/tenants/rewind/checkpoints", key);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        long version = checkpoint.GetProperty("version").GetInt64();
        var atCheckpoint = await server.DownloadThetaAsync("rewind", key);

        await PostAllAsync(server, "rewind", key, Examples[2..]);
        await server.WaitForAppliedAsync("rewind", key, Examples.Length);
        Assert.NotEqual(atCheckpoint, await server.DownloadThetaAsync("rewind", key));

        var (rolled, tenant) = await server.SendAsync(HttpMethod.Post, "/v1/tenants/rewind/rollback", key, new { version });
        Assert.Equal(HttpStatusCode.OK, rolled.StatusCode);
        Assert.Equal(2, tenant.GetProperty("examplesApplied").GetInt64());
        Assert.Equal(2, tenant.GetProperty("lastAppliedSequence").GetInt64());
        Assert.Equal(version, tenant.GetProperty("checkpointVersion").GetInt64());
        Assert.Equal(atCheckpoint, await server.DownloadThetaAsync("rewind", key));

        // New examples get new sequences and are learned; the discarded ones are not.
        var (post, body) = await server.SendAsync(HttpMethod.Post, "/v1/tenants/rewind/examples", key, new { text = "grilled cheese", label = "food" });
        Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
        Assert.Equal(Examples.Length + 1, body.GetProperty("sequence").GetInt64());
        var after = await server.WaitForAppliedAsync("rewind", key, 3);
        Assert.Equal(3, after.GetProperty("examplesApplied").GetInt64());
    }

    [Fact]
    public async Task DeletingATenantRemovesItAndItsCheckpoints()
    {
        await using var server = await LoKOTestServer.StartAsync();
        var key = await server.CreateTenantAsync("doomed");
        await PostAllAsync(server, "doomed", key, Examples[..1]);
        await server.WaitForAppliedAsync("doomed", key, 1);
        await server.SendAsync(HttpMethod.Post, "/v1/tenants/doomed/checkpoints", key);
        Assert.True(Directory.Exists(Path.Combine(server.DataDirectory, "checkpoints", "doomed")));

        var (deleted, _) = await server.SendAsync(HttpMethod.Delete, "/v1/tenants/doomed", key);
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.False(Directory.Exists(Path.Combine(server.DataDirectory, "checkpoints", "doomed")));
        var (gone, _) = await server.SendAsync(HttpMethod.Get, "/v1/tenants/doomed", LoKOTestServer.AdminKey);
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        // The id can be reused.
        await server.CreateTenantAsync("doomed");
    }
}
