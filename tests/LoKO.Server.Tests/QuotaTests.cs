using System.Net;
using System.Text.Json;
using Grpc.Core;
using V1 = LoKO.Contracts.V1;

namespace LoKO.Server.Tests;

/// <summary>A server whose default allows one prediction per 100 s per tenant (slow enough that a loaded machine cannot refill a bucket between two requests); streams wait at most 1 s for a quota.</summary>
public sealed class QuotaServer : IAsyncLifetime
{
    public LoKOTestServer Server { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Server = await LoKOTestServer.StartAsync(null, "--LoKO:Quotas:PredictionsPerSecond=0.01", "--LoKO:QueueWaitSeconds=1");

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

public class QuotaTests(QuotaServer fixture) : IClassFixture<QuotaServer>
{
    LoKOTestServer S => fixture.Server;
    static readonly Metadata Admin = LoKOTestServer.Bearer(LoKOTestServer.AdminKey);

    async Task<string> CreateAsync(string tenantId, object quotas)
    {
        var (response, body) = await S.SendAsync(HttpMethod.Post, "/v1/tenants", LoKOTestServer.AdminKey,
            new { tenantId, preset = "minilm-l6", labels = new[] { "computers", "food" }, lora = new { rank = 2 }, quotas });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return body.GetProperty("apiKey").GetString()!;
    }

    static void AssertQuotaProblem(HttpResponseMessage response, JsonElement body, string quota, string contains)
    {
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.RetryAfter?.Delta is { TotalSeconds: >= 1 }, $"Retry-After: {response.Headers.RetryAfter}");
        Assert.Equal(429, body.GetProperty("status").GetInt32());
        var message = Assert.Single(body.GetProperty("errors").GetProperty(quota).EnumerateArray()).GetString()!;
        Assert.Contains(contains, message);
    }

    [Fact]
    public async Task ExamplesPastTheTenantsRateAre429WithRetryAfter()
    {
        const string tenant = "quota-examples";
        var key = await CreateAsync(tenant, new { examplesPerSecond = 0.01 });
        var (_, described) = await S.SendAsync(HttpMethod.Get, $"/v1/tenants/{tenant}", key);
        var quotas = described.GetProperty("quotas");
        Assert.Equal(0.01, quotas.GetProperty("examplesPerSecond").GetDouble());
        Assert.Equal(0.01, quotas.GetProperty("predictionsPerSecond").GetDouble()); // the server's default
        Assert.Equal(0, quotas.GetProperty("maxLogEntries").GetInt64());

        var (first, _) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, new { text = "reboot the router", label = "computers" });
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        var (second, body) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, new { text = "bake a pie", label = "food" });
        AssertQuotaProblem(second, body, "quotas.examplesPerSecond", "the tenant's own");
        Assert.InRange(second.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 100);

        // Feedback is an example too.
        var (predicted, prediction) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/predict", key, new { text = "a cup of tea" });
        Assert.Equal(HttpStatusCode.OK, predicted.StatusCode);
        var (feedback, feedbackBody) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/feedback", key,
            new { predictionId = prediction.GetProperty("predictionId").GetString(), label = "food" });
        AssertQuotaProblem(feedback, feedbackBody, "quotas.examplesPerSecond", "0.01/s");

        // A batch larger than a full bucket can never pass: 400, not 429.
        var (batch, batchBody) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, new object[]
        {
            new { text = "fix the printer", label = "computers" }, new { text = "fried rice", label = "food" },
        });
        Assert.Equal(HttpStatusCode.BadRequest, batch.StatusCode);
        Assert.Contains("quotas.examplesPerSecond", batchBody.GetProperty("errors").GetProperty("body")[0].GetString());

        var (_, after) = await S.SendAsync(HttpMethod.Get, $"/v1/tenants/{tenant}", key);
        Assert.Equal(1, after.GetProperty("examplesAccepted").GetInt64());
    }

    [Fact]
    public async Task TheServersPredictionRateAppliesUnlessTheTenantHasItsOwn()
    {
        var limited = await S.CreateTenantAsync("quota-default");
        var unlimited = await CreateAsync("quota-unlimited", new { predictionsPerSecond = 0 });

        var (first, _) = await S.SendAsync(HttpMethod.Post, "/v1/tenants/quota-default/predict", limited, new { text = "the disk is full" });
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var (second, body) = await S.SendAsync(HttpMethod.Post, "/v1/tenants/quota-default/predict", limited, new { text = "the disk is full" });
        AssertQuotaProblem(second, body, "quotas.predictionsPerSecond", "LoKO:Quotas:PredictionsPerSecond");

        for (int i = 0; i < 5; i++)
        {
            var (response, _) = await S.SendAsync(HttpMethod.Post, "/v1/tenants/quota-unlimited/predict", unlimited, new { text = $"soup number {i}" });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        var (_, described) = await S.SendAsync(HttpMethod.Get, "/v1/tenants/quota-unlimited", unlimited);
        Assert.Equal(0, described.GetProperty("quotas").GetProperty("predictionsPerSecond").GetDouble());
    }

    [Fact]
    public async Task QuotasOverGrpcAreResourceExhaustedWithRetryAfter()
    {
        const string tenant = "quota-grpc";
        var created = await S.Grpc.CreateTenantAsync(new V1.CreateTenantRequest
        {
            TenantId = tenant, Preset = "minilm-l6", Labels = { "computers", "food" }, Lora = new V1.LoraSettings { Rank = 2 },
            Quotas = new V1.Quotas { ExamplesPerSecond = 0.01 },
        }, Admin);
        var key = LoKOTestServer.Bearer(created.ApiKey);
        var described = await S.Grpc.GetTenantAsync(new V1.TenantRef { TenantId = tenant }, key);
        Assert.Equal(0.01, described.Quotas.ExamplesPerSecond);
        Assert.Equal(0.01, described.Quotas.PredictionsPerSecond);
        Assert.Equal(0, described.Quotas.MaxLogEntries);

        var predict = new V1.PredictRequest { TenantId = tenant, Input = new V1.Input { Text = "the kernel panicked" } };
        await S.Grpc.PredictAsync(predict, key);
        var refused = await Assert.ThrowsAsync<RpcException>(() => S.Grpc.PredictAsync(predict, key).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Equal("quotas.predictionsPerSecond", refused.Trailers.GetValue("quota"));
        Assert.InRange(int.Parse(refused.Trailers.GetValue("retry-after")!), 1, 100);

        // A stream waits for its rate (LoKO:QueueWaitSeconds, 1 s here), then ends with RESOURCE_EXHAUSTED.
        using var call = S.Grpc.Learn(key);
        await call.RequestStream.WriteAsync(new V1.Example { TenantId = tenant, Input = new V1.Input { Text = "update the drivers" }, Label = "computers" });
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(V1.AckStatus.Accepted, call.ResponseStream.Current.Status);
        await call.RequestStream.WriteAsync(new V1.Example { TenantId = tenant, Input = new V1.Input { Text = "apple pie" }, Label = "food" });
        var ended = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.ResourceExhausted, ended.StatusCode);
        Assert.Equal("quotas.examplesPerSecond", ended.Trailers.GetValue("quota"));
        Assert.True(int.Parse(ended.Trailers.GetValue("retry-after")!) >= 1);
        Assert.Equal(1, (await S.Grpc.GetTenantAsync(new V1.TenantRef { TenantId = tenant }, key)).ExamplesAccepted);
    }

    [Fact]
    public async Task ALogPastItsCapIsRefusedNamingTheCapUntilCompactionMakesRoom()
    {
        const string tenant = "quota-log";
        var key = await CreateAsync(tenant, new { maxLogEntries = 3 });
        var (batch, _) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, new object[]
        {
            new { text = "fix the wifi router", label = "computers", exampleId = "a" },
            new { text = "lentil curry", label = "food" },
            new { text = "replace the battery", label = "computers" },
        });
        Assert.Equal(HttpStatusCode.Accepted, batch.StatusCode);

        var (full, body) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, new { text = "banana bread", label = "food" });
        AssertQuotaProblem(full, body, "quotas.maxLogEntries", "keeps 3 log entries and quotas.maxLogEntries = 3 (the tenant's own)");
        // A resent example adds nothing to the log: still answered.
        var (resent, resentBody) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, new { text = "fix the wifi router", label = "computers", exampleId = "a" });
        Assert.Equal(HttpStatusCode.Accepted, resent.StatusCode);
        Assert.Equal(1, resentBody.GetProperty("sequence").GetInt64());

        using (var call = S.Grpc.Learn(LoKOTestServer.Bearer(key)))
        {
            await call.RequestStream.WriteAsync(new V1.Example { TenantId = tenant, Input = new V1.Input { Text = "tomato soup" }, Label = "food" });
            var refused = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
            Assert.Equal("quotas.maxLogEntries", refused.Trailers.GetValue("quota"));
            Assert.NotNull(refused.Trailers.GetValue("retry-after"));
        }

        var tenantBody = await S.WaitForAppliedAsync(tenant, key, 3);
        Assert.Equal(3, tenantBody.GetProperty("logEntries").GetInt64());
        // A checkpoint covers the three entries; compaction removes them and makes room.
        var (checkpoint, _) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/checkpoints", key);
        Assert.Equal(HttpStatusCode.Created, checkpoint.StatusCode);
        var (_, compacted) = await S.SendAsync(HttpMethod.Get, $"/v1/tenants/{tenant}", key);
        Assert.Equal(0, compacted.GetProperty("logEntries").GetInt64());
        var (room, roomBody) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, new { text = "banana bread", label = "food" });
        Assert.Equal(HttpStatusCode.Accepted, room.StatusCode);
        Assert.Equal(4, roomBody.GetProperty("sequence").GetInt64());
    }

    [Fact]
    public async Task QuotasAreValidatedNamingTheFieldAndOnlyTheAdminSetsThem()
    {
        var (invalid, problem) = await S.SendAsync(HttpMethod.Post, "/v1/tenants", LoKOTestServer.AdminKey, new
        {
            tenantId = "quota-invalid", preset = "minilm-l6", labels = new[] { "a", "b" },
            quotas = new { examplesPerSecond = -1, predictionsPerSecond = 2e6, maxLogEntries = -5 },
        });
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        var errors = problem.GetProperty("errors");
        Assert.Equal(["quotas.examplesPerSecond", "quotas.maxLogEntries", "quotas.predictionsPerSecond"],
            errors.EnumerateObject().Select(p => p.Name).Order());
        var (unknown, unknownBody) = await S.SendAsync(HttpMethod.Post, "/v1/tenants", LoKOTestServer.AdminKey,
            rawJson: """{"tenantId":"quota-unknown","preset":"minilm-l6","labels":["a","b"],"quotas":{"examplesPerMinute":5}}""");
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.True(unknownBody.GetProperty("errors").TryGetProperty("quotas.examplesPerMinute", out _), unknownBody.ToString());

        var grpc = await Assert.ThrowsAsync<RpcException>(() => S.Grpc.CreateTenantAsync(new V1.CreateTenantRequest
        {
            TenantId = "quota-invalid-grpc", Preset = "minilm-l6", Labels = { "a", "b" }, Quotas = new V1.Quotas { MaxLogEntries = -1 },
        }, Admin).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, grpc.StatusCode);
        Assert.Equal("quotas.maxLogEntries", grpc.Trailers.GetValue("field"));

        // Creation, and with it setting quotas, takes the admin key: a tenant's key cannot give itself a bigger one.
        var tenantKey = await S.CreateTenantAsync("quota-creator");
        var (forbidden, _) = await S.SendAsync(HttpMethod.Post, "/v1/tenants", tenantKey,
            new { tenantId = "quota-self", preset = "minilm-l6", labels = new[] { "a", "b" }, quotas = new { examplesPerSecond = 0 } });
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        var denied = await Assert.ThrowsAsync<RpcException>(() => S.Grpc.CreateTenantAsync(new V1.CreateTenantRequest
        {
            TenantId = "quota-self-grpc", Preset = "minilm-l6", Labels = { "a", "b" }, Quotas = new V1.Quotas { ExamplesPerSecond = 0 },
        }, LoKOTestServer.Bearer(tenantKey)).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
    }
}
