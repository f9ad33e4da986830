using System.Net;
using System.Text.Json;
using Grpc.Core;
using LoKO.Server.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using V1 = LoKO.Contracts.V1;

namespace LoKO.Server.Tests;

/// <summary>
/// Streams whose labels flip mid-stream: 40 topic examples labelled as they are, then the same topics with the
/// labels swapped. The tenant learns the first mapping, so its prequential accuracy collapses on the flipped ones.
/// </summary>
static class FlippedStream
{
    /// <summary>Guard rails that judge windows of 10 examples from the second on; the filter's own guard is left out.</summary>
    public static readonly string[] Settings =
    [
        "--LoKO:Guard:Window=10", "--LoKO:Guard:MinWindows=2", "--LoKO:Guard:MaxGuardEvents=0", "--LoKO:CheckpointEverySteps=10",
    ];

    public const int Straight = 40;

    /// <summary>Examples [from, to) of the stream: the first <see cref="Straight"/> as labelled, the rest flipped.</summary>
    public static (string Text, string Label)[] Examples(int from, int to) =>
        TopicExamples.Make(to).Skip(from).Select((e, i) => from + i < Straight ? e : (e.Text, e.Label == "food" ? "computers" : "food")).ToArray();

    public static object[] Rest(int from, int to) => Examples(from, to).Select(e => (object)new { text = e.Text, label = e.Label }).ToArray();

    public static async Task<JsonElement> WaitUntilAsync(LoKOTestServer server, string tenant, string key, Func<JsonElement, bool> done, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
        while (true)
        {
            var (response, body) = await server.SendAsync(HttpMethod.Get, $"/v1/tenants/{tenant}", key);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            if (done(body)) return body;
            if (DateTime.UtcNow > deadline) Assert.Fail($"tenant {tenant}: {what} did not happen in time: {body}");
            await Task.Delay(100);
        }
    }

    /// <summary>The tenant's log entries in the store, by sequence: (rolled back, applied).</summary>
    public static async Task<Dictionary<long, (bool RolledBack, bool Applied)>> LogAsync(LoKOTestServer server, string tenant)
    {
        await using var db = await server.Services.GetRequiredService<IDbContextFactory<LoKODbContext>>().CreateDbContextAsync();
        return await db.Examples.Where(x => x.TenantId == tenant).ToDictionaryAsync(x => x.Sequence, x => (x.RolledBack, x.Applied));
    }
}

public sealed class GuardRailServer : IAsyncLifetime
{
    public LoKOTestServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await LoKOTestServer.StartAsync(null, FlippedStream.Settings);

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

public class GuardRailTests(GuardRailServer fixture) : IClassFixture<GuardRailServer>
{
    LoKOTestServer S => fixture.Server;

    [Fact]
    public async Task AnAccuracyCollapseFreezesRollsBackKeepsLoggingAndAResumeLearnsTheLogOnce()
    {
        const string tenant = "freeze-rest";
        var key = await S.CreateTenantAsync(tenant, seed: 3);
        var (posted, postedBody) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, FlippedStream.Rest(0, 60));
        Assert.Equal(HttpStatusCode.Accepted, posted.StatusCode);
        Assert.Equal(60, postedBody.GetProperty("sequences").GetArrayLength());

        var frozen = await FlippedStream.WaitUntilAsync(S, tenant, key, t => t.GetProperty("frozen").GetBoolean(), "a freeze");
        var freeze = Assert.Single(frozen.GetProperty("events").EnumerateArray());
        Assert.Equal("frozen", freeze.GetProperty("kind").GetString());
        var reason = freeze.GetProperty("reason").GetString()!;
        Assert.Contains("online accuracy", reason);
        Assert.Contains("LoKO:Guard:MaxAccuracyDrop = 0.2", reason);
        // The first flipped window (sequences 41–50) collapses; the tenant returns to the checkpoint at sequence 40.
        Assert.Contains("sequences 41–50", reason);
        Assert.Contains("rolled back to checkpoint v4 (sequence 40)", reason);
        Assert.Equal(4, freeze.GetProperty("checkpointVersion").GetInt64());
        Assert.Equal(40, freeze.GetProperty("lastAppliedSequence").GetInt64());
        Assert.Equal(4, frozen.GetProperty("checkpointVersion").GetInt64());
        Assert.Equal(40, frozen.GetProperty("lastAppliedSequence").GetInt64());
        Assert.Equal(40, frozen.GetProperty("examplesApplied").GetInt64());
        Assert.Equal(0, frozen.GetProperty("queueDepth").GetInt64());
        await Scrape.UntilAsync(S, t => Scrape.Value(t, "loko_tenant_frozen", tenant) == 1);

        // Frozen: examples are still accepted and durably logged, predictions served from the restored state, nothing learned.
        var (more, moreBody) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, FlippedStream.Rest(60, 70));
        Assert.Equal(HttpStatusCode.Accepted, more.StatusCode);
        Assert.Equal(Enumerable.Range(61, 10).Select(s => (long)s), moreBody.GetProperty("sequences").EnumerateArray().Select(e => e.GetInt64()));
        var (predict, prediction) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/predict", key, new { text = "reboot the database server" });
        Assert.Equal(HttpStatusCode.OK, predict.StatusCode);
        Assert.Equal(40, prediction.GetProperty("adapterVersion").GetInt64());
        await Task.Delay(TimeSpan.FromSeconds(1));
        var (_, still) = await S.SendAsync(HttpMethod.Get, $"/v1/tenants/{tenant}", key);
        Assert.True(still.GetProperty("frozen").GetBoolean());
        Assert.Equal(70, still.GetProperty("examplesAccepted").GetInt64());
        Assert.Equal(40, still.GetProperty("examplesApplied").GetInt64());
        Assert.Equal(40, still.GetProperty("lastAppliedSequence").GetInt64());
        var log = await FlippedStream.LogAsync(S, tenant);
        Assert.Equal(still.GetProperty("logEntries").GetInt64(), log.Count);
        for (long sequence = 41; sequence <= 70; sequence++)
            Assert.Equal((false, false), log[sequence]); // kept, not rolled back, not applied

        var (resumed, resumedBody) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/resume", key);
        Assert.Equal(HttpStatusCode.OK, resumed.StatusCode);
        Assert.False(resumedBody.GetProperty("frozen").GetBoolean());
        var resume = resumedBody.GetProperty("events").EnumerateArray().Last();
        Assert.Equal("resumed", resume.GetProperty("kind").GetString());
        Assert.Contains("30 logged examples after sequence 40", resume.GetProperty("reason").GetString());

        // The 20 examples learned before the freeze and the 10 accepted during it are learned again, each once, in order.
        var done = await FlippedStream.WaitUntilAsync(S, tenant, key, t => t.GetProperty("lastAppliedSequence").GetInt64() == 70, "the replay");
        Assert.False(done.GetProperty("frozen").GetBoolean());
        Assert.Equal(70, done.GetProperty("examplesAccepted").GetInt64());
        Assert.Equal(70, done.GetProperty("examplesApplied").GetInt64() + done.GetProperty("examplesRejected").GetInt64());
        Assert.Equal(2, done.GetProperty("events").GetArrayLength());
        await Scrape.UntilAsync(S, t => Scrape.Value(t, "loko_tenant_frozen", tenant) == 0);

        // Learning goes on after the replay.
        var (after, _) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, FlippedStream.Rest(70, 72));
        Assert.Equal(HttpStatusCode.Accepted, after.StatusCode);
        await FlippedStream.WaitUntilAsync(S, tenant, key, t => t.GetProperty("lastAppliedSequence").GetInt64() == 72, "learning after the resume");

        var (again, againBody) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/resume", key);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Contains("not frozen", againBody.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task FreezeAndResumeOverGrpc()
    {
        const string tenant = "freeze-grpc";
        var admin = LoKOTestServer.Bearer(LoKOTestServer.AdminKey);
        var created = await S.Grpc.CreateTenantAsync(new V1.CreateTenantRequest
        {
            TenantId = tenant, Preset = "minilm-l6", Labels = { "computers", "food" }, Lora = new V1.LoraSettings { Rank = 2 }, Seed = 3,
        }, admin);
        var key = LoKOTestServer.Bearer(created.ApiKey);
        var reference = new V1.TenantRef { TenantId = tenant };

        async Task<List<V1.Ack>> LearnAsync(int from, int to)
        {
            var acks = new List<V1.Ack>();
            using var call = S.Grpc.Learn(key);
            foreach (var (text, label) in FlippedStream.Examples(from, to))
            {
                await call.RequestStream.WriteAsync(new V1.Example { TenantId = tenant, Input = new V1.Input { Text = text }, Label = label });
                Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
                acks.Add(call.ResponseStream.Current);
            }
            await call.RequestStream.CompleteAsync();
            Assert.False(await call.ResponseStream.MoveNext(CancellationToken.None));
            return acks;
        }

        async Task<V1.Tenant> UntilAsync(Func<V1.Tenant, bool> done)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
            while (true)
            {
                var t = await S.Grpc.GetTenantAsync(reference, key);
                if (done(t)) return t;
                if (DateTime.UtcNow > deadline) Assert.Fail($"tenant {tenant}: not in time: {t}");
                await Task.Delay(100);
            }
        }

        Assert.All(await LearnAsync(0, 60), a => Assert.Equal(V1.AckStatus.Accepted, a.Status));
        var frozen = await UntilAsync(t => t.Frozen);
        var freeze = Assert.Single(frozen.Events);
        Assert.Equal("frozen", freeze.Kind);
        Assert.Contains("online accuracy", freeze.Reason);
        Assert.True(DateTimeOffset.Parse(freeze.TimeUtc) > DateTimeOffset.UtcNow.AddMinutes(-10));
        Assert.Equal(frozen.CheckpointVersion, freeze.CheckpointVersion);
        Assert.Equal(frozen.LastAppliedSequence, freeze.LastAppliedSequence);
        Assert.Equal(frozen.LastAppliedSequence, frozen.ExamplesApplied);

        var whileFrozen = await LearnAsync(60, 65);
        Assert.Equal(Enumerable.Range(61, 5).Select(s => (long)s), whileFrozen.Select(a => a.Sequence));
        var prediction = await S.Grpc.PredictAsync(new V1.PredictRequest { TenantId = tenant, Input = new V1.Input { Text = "fix the usb port" } }, key);
        Assert.Equal(frozen.LastAppliedSequence, prediction.AdapterVersion);

        var resumed = await S.Grpc.ResumeAsync(reference, key);
        Assert.False(resumed.Frozen);
        Assert.Equal(["frozen", "resumed"], resumed.Events.Select(e => e.Kind));
        var done = await UntilAsync(t => t.LastAppliedSequence == 65);
        Assert.Equal(65, done.ExamplesApplied + done.ExamplesRejected);
        Assert.Equal(65, done.ExamplesAccepted);

        var again = await Assert.ThrowsAsync<RpcException>(() => S.Grpc.ResumeAsync(reference, key).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, again.StatusCode);
    }

    [Fact]
    public async Task AnotherTenantsKeyCannotResume()
    {
        var key = await S.CreateTenantAsync("freeze-other-a");
        await S.CreateTenantAsync("freeze-other-b");
        var (response, _) = await S.SendAsync(HttpMethod.Post, "/v1/tenants/freeze-other-b/resume", key);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }
}
