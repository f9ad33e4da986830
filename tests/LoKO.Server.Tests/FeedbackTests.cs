using System.Net;
using System.Text.Json;
using Grpc.Core;
using LoKO.Contracts.V1;
using LoKO.Server.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LoKO.Server.Tests;

/// <summary>Feedback joined to an earlier prediction, on the shared server (REST and gRPC).</summary>
[Collection(SharedServerCollection.Name)]
public class FeedbackTests(SharedServer shared)
{
    LoKOTestServer S => shared.Server;

    async Task<JsonElement> PredictAsync(string tenant, string key, string text)
    {
        var (response, body) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/predict", key, new { text });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return body;
    }

    /// <summary>
    /// The prediction shown is made to differ from what the learner would predict when the feedback is learned: after
    /// it, examples of the same text with the other label flip the adapter. The feedback (the shown label) must then be
    /// scored correct — the shown prediction — although the learner's own re-prediction would be wrong.
    /// </summary>
    [Fact]
    public async Task FeedbackIsLoggedOnceAndScoredByThePredictionTheUserSaw()
    {
        const string tenant = "feedback-rest";
        const string text = "my laptop will not boot";
        var key = await S.CreateTenantAsync(tenant, seed: 3);

        var shown = await PredictAsync(tenant, key, text);
        var predictionId = shown.GetProperty("predictionId").GetString()!;
        Assert.False(string.IsNullOrEmpty(predictionId));
        var shownLabel = shown.GetProperty("label").GetString()!;
        var otherLabel = shownLabel == "computers" ? "food" : "computers";

        long applied = 0;
        for (bool flipped = false; !flipped;)
        {
            if (applied == 30) Assert.Fail($"30 examples labelled '{otherLabel}' did not flip the prediction of '{text}'");
            var (post, _) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, new { text, label = otherLabel });
            Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
            await S.WaitForAppliedAsync(tenant, key, ++applied);
            flipped = (await PredictAsync(tenant, key, text)).GetProperty("label").GetString() == otherLabel;
        }
        var before = await S.WaitForAppliedAsync(tenant, key, applied);
        long correctBefore = (long)Math.Round(before.GetProperty("onlineAccuracy").GetDouble() * applied);

        var (first, firstBody) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/feedback", key, new { predictionId, label = shownLabel });
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(applied + 1, firstBody.GetProperty("sequence").GetInt64());
        Assert.False(firstBody.GetProperty("duplicate").GetBoolean());
        Assert.Equal("prediction:" + predictionId, firstBody.GetProperty("exampleId").GetString());

        // Again, even with another label: the same example, not a second one.
        var (again, againBody) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/feedback", key, new { predictionId, label = otherLabel });
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        Assert.Equal(applied + 1, againBody.GetProperty("sequence").GetInt64());
        Assert.True(againBody.GetProperty("duplicate").GetBoolean());

        var after = await S.WaitForAppliedAsync(tenant, key, applied + 1);
        Assert.Equal(applied + 1, after.GetProperty("examplesAccepted").GetInt64());
        Assert.Equal(applied + 1, after.GetProperty("examplesApplied").GetInt64());
        Assert.Equal((double)(correctBefore + 1) / (applied + 1), after.GetProperty("onlineAccuracy").GetDouble(), 12);

        // The log carries the shown prediction (a replay scores it the same way); the kept prediction is gone.
        await using var db = await S.Services.GetRequiredService<IDbContextFactory<LoKODbContext>>().CreateDbContextAsync();
        var logged = await db.Examples.AsNoTracking().SingleAsync(x => x.TenantId == tenant && x.Sequence == applied + 1);
        Assert.Equal(shownLabel, logged.Label);
        Assert.Equal(shownLabel == "computers" ? 0 : 1, logged.ShownLabelIndex);
        Assert.Equal(-Math.Log(shown.GetProperty("probabilities").GetProperty(shownLabel).GetDouble()), logged.ShownLoss!.Value, 9);
        Assert.False(await db.PendingPredictions.AnyAsync(p => p.TenantId == tenant && p.PredictionId == predictionId));
    }

    [Fact]
    public async Task FeedbackMistakesNameTheField()
    {
        const string tenant = "feedback-errors";
        var key = await S.CreateTenantAsync(tenant);
        var otherKey = await S.CreateTenantAsync("feedback-errors-other");
        var predictionId = (await PredictAsync(tenant, key, "reboot the router")).GetProperty("predictionId").GetString()!;
        const string path = $"/v1/tenants/{tenant}/feedback";

        var (unknown, unknownBody) = await S.SendAsync(HttpMethod.Post, path, key, new { predictionId = "no-such-prediction", label = "food" });
        AssertProblem(unknown, unknownBody, 404, "predictionId");
        // Kept predictions belong to their tenant.
        var (elsewhere, elsewhereBody) = await S.SendAsync(HttpMethod.Post, "/v1/tenants/feedback-errors-other/feedback", otherKey, new { predictionId, label = "food" });
        AssertProblem(elsewhere, elsewhereBody, 404, "predictionId");

        AssertProblem(await S.SendAsync(HttpMethod.Post, path, key, new { predictionId, label = "sports" }), 400, "label");
        AssertProblem(await S.SendAsync(HttpMethod.Post, path, key, new { predictionId }), 400, "label");
        AssertProblem(await S.SendAsync(HttpMethod.Post, path, key, new { label = "food" }), 400, "predictionId");
        AssertProblem(await S.SendAsync(HttpMethod.Post, path, key, new { predictionId = new string('x', 65), label = "food" }), 400, "predictionId");
        AssertProblem(await S.SendAsync(HttpMethod.Post, path, key, rawJson: $"{{\"predictionId\": \"{predictionId}\", \"label\": \"food\", \"text\": \"soup\"}}"), 400, "text");
        AssertProblem(await S.SendAsync(HttpMethod.Post, path, otherKey, new { predictionId, label = "food" }), 403, null);
        AssertProblem(await S.SendAsync(HttpMethod.Post, "/v1/tenants/feedback-nobody/feedback", LoKOTestServer.AdminKey, new { predictionId, label = "food" }), 404, null);

        // None of that used the prediction up: its feedback is still taken (with the admin key too).
        var (ok, okBody) = await S.SendAsync(HttpMethod.Post, path, LoKOTestServer.AdminKey, new { predictionId, label = "computers" });
        Assert.Equal(HttpStatusCode.Accepted, ok.StatusCode);
        Assert.Equal(1, okBody.GetProperty("sequence").GetInt64());
        Assert.False(okBody.GetProperty("duplicate").GetBoolean());
    }

    [Fact]
    public async Task FeedbackOverGrpc()
    {
        var client = S.Grpc;
        var created = await client.CreateTenantAsync(new CreateTenantRequest
        {
            TenantId = "feedback-grpc", Preset = "minilm-l6", Labels = { "computers", "food" }, Lora = new LoraSettings { Rank = 2 },
        }, LoKOTestServer.Bearer(LoKOTestServer.AdminKey));
        var key = LoKOTestServer.Bearer(created.ApiKey);

        var prediction = await client.PredictAsync(new PredictRequest { TenantId = "feedback-grpc", Input = new Input { Text = "a bowl of noodle soup" } }, key);
        Assert.NotEmpty(prediction.PredictionId);
        var request = new FeedbackRequest { TenantId = "feedback-grpc", PredictionId = prediction.PredictionId, Label = "food" };
        var first = await client.FeedbackAsync(request, key);
        Assert.Equal(1, first.Sequence);
        Assert.False(first.Duplicate);
        Assert.Equal("prediction:" + prediction.PredictionId, first.ExampleId);
        var again = await client.FeedbackAsync(request, key);
        Assert.Equal(1, again.Sequence);
        Assert.True(again.Duplicate);

        async Task<RpcException> Fails(FeedbackRequest r) => await Assert.ThrowsAsync<RpcException>(() => client.FeedbackAsync(r, key).ResponseAsync);
        var unknown = await Fails(new FeedbackRequest { TenantId = "feedback-grpc", PredictionId = "nope", Label = "food" });
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("predictionId", unknown.Trailers.GetValue("field"));
        var badLabel = await Fails(new FeedbackRequest { TenantId = "feedback-grpc", PredictionId = prediction.PredictionId, Label = "dessert" });
        Assert.Equal(StatusCode.InvalidArgument, badLabel.StatusCode);
        Assert.Equal("label", badLabel.Trailers.GetValue("field"));
        var missing = await Fails(new FeedbackRequest { TenantId = "feedback-grpc", Label = "food" });
        Assert.Equal(StatusCode.InvalidArgument, missing.StatusCode);
        Assert.Equal("predictionId", missing.Trailers.GetValue("field"));

        var tenant = await client.GetTenantAsync(new TenantRef { TenantId = "feedback-grpc" }, key);
        Assert.Equal(1, tenant.ExamplesAccepted);
    }

    static void AssertProblem((HttpResponseMessage Response, JsonElement Body) result, int status, string? field) =>
        AssertProblem(result.Response, result.Body, status, field);

    static void AssertProblem(HttpResponseMessage response, JsonElement body, int status, string? field)
    {
        Assert.True((int)response.StatusCode == status, $"expected {status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        if (field is null) return;
        var errors = body.GetProperty("errors").EnumerateObject().Select(p => p.Name).ToList();
        Assert.True(errors.Contains(field), $"expected an error on '{field}', got [{string.Join(", ", errors)}]: {body}");
    }
}
