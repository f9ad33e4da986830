using System.Net;
using System.Text.Json;
using Grpc.Core;
using LoKO.Contracts.V1;

namespace LoKO.Server.Tests;

/// <summary>Labels added to a live tenant, on the shared server: REST and gRPC, what is kept, what is learned, what is refused.</summary>
[Collection(SharedServerCollection.Name)]
public class LabelAdditionTests(SharedServer shared)
{
    LoKOTestServer S => shared.Server;

    public static readonly (string Text, string Label)[] OldExamples =
    [
        ("the printer driver crashed", "computers"), ("roast the vegetables with olive oil", "food"),
        ("upgrade the database server", "computers"), ("a bowl of ramen with egg", "food"),
    ];

    public static readonly (string Text, string Label)[] SportsExamples =
    [
        ("the team won the football match", "sports"), ("a tennis final in the rain", "sports"),
        ("the striker scored two goals", "sports"), ("marathon runners cross the finish line", "sports"),
        ("the goalkeeper saved a penalty", "sports"), ("basketball playoffs start tonight", "sports"),
    ];

    public const int HeadFeatures = 384; // minilm-l6

    internal static async Task PostAsync(LoKOTestServer server, string tenant, string key, IEnumerable<(string Text, string Label)> examples)
    {
        foreach (var (text, label) in examples)
        {
            var (response, body) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, new { text, label });
            Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{label}: {(int)response.StatusCode} {body}");
        }
    }

    public static async Task<Dictionary<string, double>> PredictAsync(LoKOTestServer server, string tenant, string key, string text)
    {
        var (response, body) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/predict", key, new { text });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return body.GetProperty("probabilities").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble());
    }

    public static Task<(HttpResponseMessage Response, JsonElement Body)> AddAsync(LoKOTestServer server, string tenant, string? key, object body) =>
        server.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/labels", key, body);

    /// <summary>θ's old entries (everything before the head's bias, then the bias) equal in the widened θ.</summary>
    internal static void AssertOldEntriesKept(float[] before, float[] after, int oldLabels, int added)
    {
        Assert.Equal(before.Length + added * (HeadFeatures + 1), after.Length);
        int bias = before.Length - oldLabels;
        Assert.Equal(before[..bias], after[..bias]);
        Assert.Equal(before[bias..], after[(bias + added * HeadFeatures)..(bias + added * HeadFeatures + oldLabels)]);
    }

    static string[] Labels(JsonElement tenant) => [.. tenant.GetProperty("labels").EnumerateArray().Select(l => l.GetString()!)];

    [Fact]
    public async Task AddedLabelsKeepWhatWasLearnedAndAreLearnedAtOnce()
    {
        const string tenant = "labels-rest";
        const string oldText = "the laptop keyboard is broken", sportsText = "the cyclists climb the mountain stage";
        var key = await S.CreateTenantAsync(tenant, seed: 5);
        await PostAsync(S, tenant, key, OldExamples);
        await S.WaitForAppliedAsync(tenant, key, OldExamples.Length);
        var before = await PredictAsync(S, tenant, key, oldText);
        var thetaBefore = await S.DownloadThetaAsync(tenant, key);

        var (added, body) = await AddAsync(S, tenant, key, new { labels = new[] { "sports", "music" } });
        Assert.True(added.StatusCode == HttpStatusCode.OK, body.ToString());
        Assert.Equal(["computers", "food", "sports", "music"], Labels(body));
        Assert.Equal(4, body.GetProperty("headLabels").GetInt32());
        var (_, described) = await S.SendAsync(HttpMethod.Get, $"/v1/tenants/{tenant}", key);
        Assert.Equal(["computers", "food", "sports", "music"], Labels(described));

        // The old classes' logits are unchanged: their log-odds are, while the new classes take a share of the probability.
        var after = await PredictAsync(S, tenant, key, oldText);
        Assert.Equal(["computers", "food", "music", "sports"], after.Keys.Order());
        double logOddsBefore = Math.Log(before["computers"] / before["food"]), logOddsAfter = Math.Log(after["computers"] / after["food"]);
        Assert.True(Math.Abs(logOddsBefore - logOddsAfter) <= 1e-6, $"old-class log-odds {logOddsBefore} → {logOddsAfter}");
        Assert.True(after["computers"] + after["food"] < 1 - 1e-3);
        AssertOldEntriesKept(thetaBefore, await S.DownloadThetaAsync(tenant, key), oldLabels: 2, added: 2);

        var sportsBefore = (await PredictAsync(S, tenant, key, sportsText))["sports"];
        await PostAsync(S, tenant, key, SportsExamples);
        await PostAsync(S, tenant, key, [("a piano concerto tonight", "music")]);
        var learned = await S.WaitForAppliedAsync(tenant, key, OldExamples.Length + SportsExamples.Length + 1);
        Assert.Equal(0, learned.GetProperty("examplesRejected").GetInt64());
        var sportsAfter = (await PredictAsync(S, tenant, key, sportsText))["sports"];
        Assert.True(sportsAfter > sportsBefore + 0.1, $"p(sports) on an unseen sports text {sportsBefore:F3} → {sportsAfter:F3}");
    }

    [Fact]
    public async Task BadAdditionsAreRefusedNamingTheFieldAndTheValue()
    {
        const string tenant = "labels-invalid";
        var key = await S.CreateTenantAsync(tenant);
        async Task Refused(object body, string field, string? quoted)
        {
            var (response, problem) = await AddAsync(S, tenant, key, body);
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{JsonSerializer.Serialize(body)}: {(int)response.StatusCode} {problem}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out var messages), $"no error on '{field}': {problem}");
            if (quoted is not null) Assert.Contains($"'{quoted}'", messages[0].GetString());
        }
        await Refused(new { }, "labels", null);
        await Refused(new { labels = Array.Empty<string>() }, "labels", null);
        await Refused(new { labels = new[] { "ok", "  " } }, "labels[1]", "  ");
        await Refused(new { labels = new[] { "" } }, "labels[0]", "");
        await Refused(new { labels = new[] { "twice", "twice" } }, "labels", "twice");
        await Refused(new { labels = new[] { "new", "food" } }, "labels[1]", "food");
        await Refused(new { labels = Enumerable.Range(0, 999).Select(i => $"l{i}").ToArray() }, "labels", null);

        var (_, unchanged) = await S.SendAsync(HttpMethod.Get, $"/v1/tenants/{tenant}", key);
        Assert.Equal(["computers", "food"], Labels(unchanged));

        Assert.Equal(HttpStatusCode.NotFound, (await AddAsync(S, "labels-nobody", LoKOTestServer.AdminKey, new { labels = new[] { "x" } })).Response.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await AddAsync(S, tenant, "wrong", new { labels = new[] { "x" } })).Response.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await AddAsync(S, tenant, null, new { labels = new[] { "x" } })).Response.StatusCode);
        var otherKey = await S.CreateTenantAsync("labels-invalid-other");
        Assert.Equal(HttpStatusCode.Forbidden, (await AddAsync(S, tenant, otherKey, new { labels = new[] { "x" } })).Response.StatusCode);
        // The admin key reaches every tenant, as on the other routes.
        Assert.Equal(HttpStatusCode.OK, (await AddAsync(S, tenant, LoKOTestServer.AdminKey, new { labels = new[] { "x" } })).Response.StatusCode);
    }

    [Fact]
    public async Task OverGrpcAddLabelsAnswersTheTenantAndRefusesWithTheField()
    {
        const string tenant = "labels-grpc";
        var key = LoKOTestServer.Bearer(await S.CreateTenantAsync(tenant));
        var grown = await S.Grpc.AddLabelsAsync(new AddLabelsRequest { TenantId = tenant, Labels = { "sports" } }, key);
        Assert.Equal(["computers", "food", "sports"], grown.Labels);
        Assert.Equal(3, grown.HeadLabels);
        var prediction = await S.Grpc.PredictAsync(new PredictRequest { TenantId = tenant, Input = new Input { Text = "a football match" } }, key);
        Assert.Contains("sports", prediction.Probabilities.Keys);

        async Task<RpcException> Fails(AddLabelsRequest request, Metadata headers) =>
            await Assert.ThrowsAsync<RpcException>(() => S.Grpc.AddLabelsAsync(request, headers).ResponseAsync);
        var existing = await Fails(new AddLabelsRequest { TenantId = tenant, Labels = { "sports" } }, key);
        Assert.Equal(StatusCode.InvalidArgument, existing.StatusCode);
        Assert.Equal("labels[0]", existing.Trailers.GetValue("field"));
        Assert.Contains("'sports'", existing.Status.Detail);
        var empty = await Fails(new AddLabelsRequest { TenantId = tenant }, key);
        Assert.Equal(StatusCode.InvalidArgument, empty.StatusCode);
        Assert.Equal("labels", empty.Trailers.GetValue("field"));
        Assert.Equal(StatusCode.NotFound, (await Fails(new AddLabelsRequest { TenantId = "labels-grpc-nobody", Labels = { "x" } },
            LoKOTestServer.Bearer(LoKOTestServer.AdminKey))).StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, (await Fails(new AddLabelsRequest { TenantId = tenant, Labels = { "x" } }, LoKOTestServer.Bearer("wrong"))).StatusCode);
    }
}
