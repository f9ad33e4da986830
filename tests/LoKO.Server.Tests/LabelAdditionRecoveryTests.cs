using System.Net;
using static LoKO.Server.Tests.LabelAdditionTests;

namespace LoKO.Server.Tests;

/// <summary>
/// Labels added to a live tenant across restarts and rollbacks (servers started and stopped on one data directory,
/// no checkpoint at shutdown): a checkpoint from before the addition plus the log after it rebuilds the same tenant.
/// </summary>
public class LabelAdditionRecoveryTests
{
    static readonly string[] CrashLike =
        ["--LoKO:CheckpointOnShutdown=false", "--LoKO:CheckpointEverySteps=1000", "--LoKO:CheckpointEverySeconds=3600"];

    const string Probe = "the referee showed a red card";

    static string TempDirectory() => Path.Combine(Path.GetTempPath(), "loko-test-" + Guid.NewGuid().ToString("N"));

    static async Task<long> CheckpointAsync(LoKOTestServer server, string tenant, string key)
    {
        var (response, body) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/checkpoints", key);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return body.GetProperty("version").GetInt64();
    }

    /// <summary>
    /// The addition comes while examples accepted before it still wait (so the head grows behind them, at its place in
    /// the log), and the restart replays from a checkpoint taken before it: θ and predictions come back exactly.
    /// </summary>
    [Theory]
    [InlineData("loko")]
    [InlineData("adamw")]
    public async Task ARestartFromACheckpointBeforeTheAdditionRebuildsTheSameTenant(string optimizer)
    {
        var data = TempDirectory();
        const string tenant = "labels-restart";
        try
        {
            string key;
            float[] theta;
            Dictionary<string, double> predicted;
            int total = OldExamples.Length + 2 + SportsExamples.Length;
            await using (var first = await LoKOTestServer.StartAsync(data, CrashLike))
            {
                key = await first.CreateTenantAsync(tenant, optimizer: optimizer, seed: 7);
                await PostAsync(first, tenant, key, OldExamples);
                await first.WaitForAppliedAsync(tenant, key, OldExamples.Length);
                Assert.Equal(1, await CheckpointAsync(first, tenant, key));
                await PostAsync(first, tenant, key, [("reinstall the operating system", "computers"), ("fresh basil and tomatoes", "food")]);
                var (added, _) = await AddAsync(first, tenant, key, new { labels = new[] { "sports" } });
                Assert.Equal(HttpStatusCode.OK, added.StatusCode);
                await PostAsync(first, tenant, key, SportsExamples);
                var learned = await first.WaitForAppliedAsync(tenant, key, total);
                Assert.Equal(0, learned.GetProperty("examplesRejected").GetInt64());
                Assert.Equal(3, learned.GetProperty("headLabels").GetInt32());
                theta = await first.DownloadThetaAsync(tenant, key);
                predicted = await PredictAsync(first, tenant, key, Probe);
            }

            await using var second = await LoKOTestServer.StartAsync(data, CrashLike);
            var restored = await second.WaitForAppliedAsync(tenant, key, total);
            Assert.Equal(1, restored.GetProperty("checkpointVersion").GetInt64()); // replayed across the addition, not restored past it
            Assert.Equal(3, restored.GetProperty("headLabels").GetInt32());
            Assert.Equal(theta, await second.DownloadThetaAsync(tenant, key));
            var again = await PredictAsync(second, tenant, key, Probe);
            Assert.Equal(predicted.Keys.Order(), again.Keys.Order());
            foreach (var (label, p) in predicted) Assert.True(Math.Abs(p - again[label]) <= 1e-9, $"{label}: {p} → {again[label]}");
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    /// <summary>
    /// Rollback keeps the labels: to a checkpoint after the addition it is that checkpoint's state; to one before it, the
    /// checkpoint's state grown again exactly as the live addition grew it; and a restart after both rebuilds the tenant.
    /// </summary>
    [Fact]
    public async Task RollbacksBeforeAndAfterTheAdditionKeepTheLabelsAndSurviveARestart()
    {
        var data = TempDirectory();
        const string tenant = "labels-rollback";
        try
        {
            string key;
            float[] beforeRestart;
            await using (var first = await LoKOTestServer.StartAsync(data, CrashLike))
            {
                key = await first.CreateTenantAsync(tenant, seed: 8);
                await PostAsync(first, tenant, key, OldExamples);
                await first.WaitForAppliedAsync(tenant, key, OldExamples.Length);
                long beforeAddition = await CheckpointAsync(first, tenant, key);
                var thetaAtBefore = await first.DownloadThetaAsync(tenant, key);
                var (added, _) = await AddAsync(first, tenant, key, new { labels = new[] { "sports" } });
                Assert.Equal(HttpStatusCode.OK, added.StatusCode);
                var grown = await first.DownloadThetaAsync(tenant, key);
                AssertOldEntriesKept(thetaAtBefore, grown, oldLabels: 2, added: 1);

                await PostAsync(first, tenant, key, SportsExamples[..3]);
                await first.WaitForAppliedAsync(tenant, key, OldExamples.Length + 3);
                long afterAddition = await CheckpointAsync(first, tenant, key);
                var thetaAtAfter = await first.DownloadThetaAsync(tenant, key);
                await PostAsync(first, tenant, key, SportsExamples[3..]);
                await first.WaitForAppliedAsync(tenant, key, OldExamples.Length + SportsExamples.Length);

                var (toAfter, rolledToAfter) = await first.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/rollback", key, new { version = afterAddition });
                Assert.Equal(HttpStatusCode.OK, toAfter.StatusCode);
                Assert.Equal(3, rolledToAfter.GetProperty("headLabels").GetInt32());
                Assert.Equal(thetaAtAfter, await first.DownloadThetaAsync(tenant, key));

                var (toBefore, rolledToBefore) = await first.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/rollback", key, new { version = beforeAddition });
                Assert.Equal(HttpStatusCode.OK, toBefore.StatusCode);
                Assert.Equal(3, rolledToBefore.GetProperty("labels").GetArrayLength());
                Assert.Equal(3, rolledToBefore.GetProperty("headLabels").GetInt32());
                Assert.Equal(grown, await first.DownloadThetaAsync(tenant, key));

                await PostAsync(first, tenant, key, [("the cyclists climb the mountain stage", "sports"), ("compile the kernel module", "computers")]);
                var learned = await first.WaitForAppliedAsync(tenant, key, OldExamples.Length + 2);
                Assert.Equal(0, learned.GetProperty("examplesRejected").GetInt64());
                beforeRestart = await first.DownloadThetaAsync(tenant, key);
                Assert.NotEqual(grown, beforeRestart);
            }

            await using var second = await LoKOTestServer.StartAsync(data, CrashLike);
            var restored = await second.WaitForAppliedAsync(tenant, key, OldExamples.Length + 2);
            Assert.Equal(3, restored.GetProperty("headLabels").GetInt32());
            Assert.Equal(beforeRestart, await second.DownloadThetaAsync(tenant, key));
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }
}
