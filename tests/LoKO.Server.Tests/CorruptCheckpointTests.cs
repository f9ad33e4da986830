using System.Net;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace LoKO.Server.Tests;

/// <summary>
/// Checkpoint files damaged on disk between two runs of the real server (SQLite store, checkpoint folder): truncated,
/// with a flipped byte, deleted, and rows from before checksums. The tenant falls back to the previous good checkpoint
/// plus the log, serves, and its θ and predictions equal the run that was never interrupted (replay is deterministic).
/// </summary>
public class CorruptCheckpointTests(ITestOutputHelper output)
{
    // Checkpoints after 4 and 8 steps, then 2 steps only in memory and the log: a restart from v1 replays 6 entries.
    const int Total = 10;
    static readonly string[] Settings = ["--LoKO:CheckpointEverySteps=4", "--LoKO:CheckpointOnShutdown=false"];
    static readonly (string Text, string Label)[] Examples = TopicExamples.Make(Total + 1);
    const string Probe = "my laptop will not boot";

    /// <summary>What a tenant looked like before the server stopped: the uninterrupted run.</summary>
    sealed record Before(string Key, float[] Theta, double[] Probabilities);

    static string TempDirectory() => Path.Combine(Path.GetTempPath(), "loko-test-" + Guid.NewGuid().ToString("N"));

    static string CheckpointFile(string data, string tenant, int version) => Path.Combine(data, "checkpoints", tenant, $"v{version:D8}.safetensors");

    static async Task<long> PostAsync(LoKOTestServer server, string tenant, string key, (string Text, string Label)[] examples)
    {
        var (response, body) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key,
            examples.Select(e => new { text = e.Text, label = e.Label }).ToArray());
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return body.GetProperty("sequences").EnumerateArray().Last().GetInt64();
    }

    static async Task<double[]> PredictAsync(LoKOTestServer server, string tenant, string key)
    {
        var (response, body) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/predict", key, new { text = Probe });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var p = body.GetProperty("probabilities");
        return [p.GetProperty("computers").GetDouble(), p.GetProperty("food").GetDouble()];
    }

    static void AssertClose(IReadOnlyList<float> expected, IReadOnlyList<float> actual, string what)
    {
        Assert.Equal(expected.Count, actual.Count);
        double worst = expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(worst <= 1e-6, $"{what}: θ differs from the uninterrupted run by {worst:E2}");
    }

    /// <summary>Creates each tenant, learns <see cref="Total"/> examples (checkpoints v1 and v2) and notes θ and a prediction.</summary>
    static async Task<Dictionary<string, Before>> LearnAsync(LoKOTestServer server, params string[] tenants)
    {
        var keys = new Dictionary<string, string>();
        foreach (var tenant in tenants)
        {
            keys[tenant] = await server.CreateTenantAsync(tenant, seed: 11);
            await PostAsync(server, tenant, keys[tenant], Examples[..Total]);
        }
        var before = new Dictionary<string, Before>();
        foreach (var tenant in tenants)
        {
            var t = await server.WaitForAppliedAsync(tenant, keys[tenant], Total);
            Assert.Equal(2, t.GetProperty("checkpointVersion").GetInt64());
            before[tenant] = new Before(keys[tenant], await server.DownloadThetaAsync(tenant, keys[tenant]), await PredictAsync(server, tenant, keys[tenant]));
        }
        return before;
    }

    static void Truncate(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write);
        file.SetLength(file.Length / 2);
    }

    static void FlipByte(string path)
    {
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(path, bytes);
    }

    /// <summary>Runs <paramref name="sql"/> (with $tenant) on the stopped server's store; returns the rows it changed.</summary>
    static int Update(string data, string sql, string tenant)
    {
        int changed;
        using (var db = new SqliteConnection($"Data Source={Path.Combine(data, "loko.db")}"))
        {
            db.Open();
            using var command = db.CreateCommand();
            command.CommandText = sql;
            command.Parameters.AddWithValue("$tenant", tenant);
            changed = command.ExecuteNonQuery();
        }
        SqliteConnection.ClearAllPools();
        return changed;
    }

    /// <summary>Rows as versions before checksums wrote them: no SHA-256, no length.</summary>
    static void ForgetChecksums(string data, string tenant) =>
        Assert.Equal(2, Update(data, "UPDATE checkpoints SET Sha256 = NULL, SizeBytes = NULL WHERE TenantId = $tenant", tenant));

    [Fact]
    public async Task ANewestCheckpointThatIsTruncatedFlippedMissingOrUnparseableGivesWayToThePreviousOneAndTheLog()
    {
        var data = TempDirectory();
        try
        {
            Dictionary<string, Before> before;
            await using (var first = await LoKOTestServer.StartAsync(data, Settings))
                before = await LearnAsync(first, "truncated", "flipped", "missing", "legacy", "legacy-truncated", "lost");

            // The rows written now carry a checksum: every kind of damage below is caught before parsing.
            Truncate(CheckpointFile(data, "truncated", 2));
            FlipByte(CheckpointFile(data, "flipped", 2));
            File.Delete(CheckpointFile(data, "missing", 2));
            // Rows from before checksums: an intact file still loads; a truncated one fails to parse.
            ForgetChecksums(data, "legacy");
            ForgetChecksums(data, "legacy-truncated");
            Truncate(CheckpointFile(data, "legacy-truncated", 2));
            // No checkpoint left, and compaction already deleted the log entries v1 covered.
            File.Delete(CheckpointFile(data, "lost", 1));
            File.Delete(CheckpointFile(data, "lost", 2));

            await using var second = await LoKOTestServer.StartAsync(data, Settings);
            foreach (var tenant in new[] { "truncated", "flipped", "missing", "legacy", "legacy-truncated" })
            {
                var b = before[tenant];
                var t = await second.WaitForAppliedAsync(tenant, b.Key, Total);
                Assert.Equal(Total, t.GetProperty("examplesApplied").GetInt64());
                Assert.Equal(0, t.GetProperty("examplesRejected").GetInt64());
                Assert.Equal(Total, t.GetProperty("examplesAccepted").GetInt64());
                Assert.Equal(Total, t.GetProperty("lastAppliedSequence").GetInt64());
                // Replayed from v1, the tenant passed sequence 8 again and wrote a good v3 in the damaged v2's place.
                Assert.Equal(tenant == "legacy" ? 2 : 3, t.GetProperty("checkpointVersion").GetInt64());
                AssertClose(b.Theta, await second.DownloadThetaAsync(tenant, b.Key), tenant);
                var probabilities = await PredictAsync(second, tenant, b.Key);
                Assert.True(b.Probabilities.Zip(probabilities).All(p => Math.Abs(p.First - p.Second) <= 1e-6),
                    $"{tenant}: predicts [{string.Join(", ", probabilities)}], the uninterrupted run [{string.Join(", ", b.Probabilities)}]");
                // It goes on learning: the next example is acknowledged with the next sequence and applied.
                Assert.Equal(Total + 1, await PostAsync(second, tenant, b.Key, Examples[Total..]));
                await second.WaitForAppliedAsync(tenant, b.Key, Total + 1);
            }

            var lost = before["lost"];
            var l = await second.WaitForAppliedAsync("lost", lost.Key, Total - 4);
            output.WriteLine($"lost: {l}");
            Assert.Equal(Total - 4, l.GetProperty("examplesApplied").GetInt64()); // the initial state and the 6 entries left
            Assert.Equal(Total, l.GetProperty("lastAppliedSequence").GetInt64());
            await PredictAsync(second, "lost", lost.Key);

            var metrics = await Scrape.GetAsync(second);
            const string fallbacks = "loko_checkpoint_fallbacks_total";
            Assert.Equal(1, Scrape.Value(metrics, fallbacks, "truncated", "reason=\"truncated\""));
            Assert.Equal(1, Scrape.Value(metrics, fallbacks, "flipped", "reason=\"checksum\""));
            Assert.Equal(1, Scrape.Value(metrics, fallbacks, "missing", "reason=\"missing\""));
            Assert.Equal(1, Scrape.Value(metrics, fallbacks, "legacy-truncated", "reason=\"invalid\""));
            Assert.Equal(2, Scrape.Value(metrics, fallbacks, "lost", "reason=\"missing\""));
            Assert.Null(Scrape.Value(metrics, fallbacks, "legacy"));
            Assert.Null(Scrape.Value(metrics, fallbacks, "truncated", "reason=\"missing\""));
        }
        finally
        {
            try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task WithNoGoodCheckpointTheWholeLogRebuildsTheTenantAndADamagedRollbackTargetOrFrozenStateIsRebuiltFromTheOneBefore()
    {
        var data = TempDirectory();
        string[] keepAll = [.. Settings, "--LoKO:RetainCheckpoints=0"];
        try
        {
            Dictionary<string, Before> before;
            string rewindKey;
            float[] afterEight;
            await using (var first = await LoKOTestServer.StartAsync(data, keepAll))
            {
                before = await LearnAsync(first, "all-bad", "frozen");
                rewindKey = await first.CreateTenantAsync("rewind", seed: 11);
                await PostAsync(first, "rewind", rewindKey, Examples[..8]);
                await FlippedStream.WaitUntilAsync(first, "rewind", rewindKey, t => t.GetProperty("checkpointVersion").GetInt64() == 2, "checkpoint v2");
                afterEight = await first.DownloadThetaAsync("rewind", rewindKey); // v2's state
                await PostAsync(first, "rewind", rewindKey, Examples[8..Total]);
                await first.WaitForAppliedAsync("rewind", rewindKey, Total);
            }
            Truncate(CheckpointFile(data, "all-bad", 1));
            FlipByte(CheckpointFile(data, "all-bad", 2));
            // Frozen at v2 (as the guard rails leave a tenant): it learns nothing after v2, but v2 itself is rebuilt.
            Assert.Equal(1, Update(data, "UPDATE tenants SET Frozen = 1 WHERE TenantId = $tenant AND CheckpointVersion = 2", "frozen"));
            FlipByte(CheckpointFile(data, "frozen", 2));

            await using var second = await LoKOTestServer.StartAsync(data, keepAll);
            var b = before["all-bad"];
            var t = await second.WaitForAppliedAsync("all-bad", b.Key, Total);
            Assert.Equal(Total, t.GetProperty("examplesApplied").GetInt64());
            Assert.Equal(Total, t.GetProperty("lastAppliedSequence").GetInt64());
            AssertClose(b.Theta, await second.DownloadThetaAsync("all-bad", b.Key), "all-bad");

            var (frozenResponse, frozen) = await second.SendAsync(HttpMethod.Get, "/v1/tenants/frozen", before["frozen"].Key);
            Assert.Equal(HttpStatusCode.OK, frozenResponse.StatusCode);
            Assert.True(frozen.GetProperty("frozen").GetBoolean());
            Assert.Equal(8, frozen.GetProperty("examplesApplied").GetInt64());
            Assert.Equal(8, frozen.GetProperty("lastAppliedSequence").GetInt64());
            Assert.Equal(Total, frozen.GetProperty("examplesAccepted").GetInt64());
            Assert.Equal(0, frozen.GetProperty("queueDepth").GetInt64());
            AssertClose(afterEight, await second.DownloadThetaAsync("frozen", before["frozen"].Key), "frozen");

            // v3 after sequence 10; then v2's file is damaged under the running server and the tenant rolls back to it.
            await second.WaitForAppliedAsync("rewind", rewindKey, Total);
            var (checkpoint, _) = await second.SendAsync(HttpMethod.Post, "/v1/tenants/rewind/checkpoints", rewindKey);
            Assert.Equal(HttpStatusCode.Created, checkpoint.StatusCode);
            FlipByte(CheckpointFile(data, "rewind", 2));
            var (rolled, tenant) = await second.SendAsync(HttpMethod.Post, "/v1/tenants/rewind/rollback", rewindKey, new { version = 2 });
            Assert.Equal(HttpStatusCode.OK, rolled.StatusCode);
            Assert.Equal(8, tenant.GetProperty("examplesApplied").GetInt64());
            Assert.Equal(8, tenant.GetProperty("lastAppliedSequence").GetInt64());
            Assert.Equal(2, tenant.GetProperty("checkpointVersion").GetInt64());
            AssertClose(afterEight, await second.DownloadThetaAsync("rewind", rewindKey), "rewind after the rollback");

            var metrics = await Scrape.GetAsync(second);
            Assert.Equal(1, Scrape.Value(metrics, "loko_checkpoint_fallbacks_total", "all-bad", "reason=\"truncated\""));
            Assert.Equal(1, Scrape.Value(metrics, "loko_checkpoint_fallbacks_total", "all-bad", "reason=\"checksum\""));
            Assert.Equal(1, Scrape.Value(metrics, "loko_checkpoint_fallbacks_total", "rewind", "reason=\"checksum\""));
            Assert.Equal(1, Scrape.Value(metrics, "loko_checkpoint_fallbacks_total", "frozen", "reason=\"checksum\""));
        }
        finally
        {
            try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        }
    }
}
