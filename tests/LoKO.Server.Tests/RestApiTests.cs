using System.Net;
using System.Text.Json;
using LoKO.Engine.Filter;

namespace LoKO.Server.Tests;

[Collection(SharedServerCollection.Name)]
public class RestApiTests(SharedServer shared)
{
    LoKOTestServer S => shared.Server;

    [Fact]
    public async Task CreateLearnPredictAndReadTheTenant()
    {
        var key = await S.CreateTenantAsync("rest-round-trip");

        var (single, singleBody) = await S.SendAsync(HttpMethod.Post, "/v1/tenants/rest-round-trip/examples", key,
            new { text = "the compiler crashed again", label = "computers" });
        Assert.Equal(HttpStatusCode.Accepted, single.StatusCode);
        Assert.Equal(1, singleBody.GetProperty("sequence").GetInt64());

        var (batch, batchBody) = await S.SendAsync(HttpMethod.Post, "/v1/tenants/rest-round-trip/examples", key, new object[]
        {
            new { text = "bake the bread for forty minutes", label = "food" },
            new { text = "reboot the server and check the disk", label = "computers" },
            new { text = "a recipe for tomato soup", label = "food" },
        });
        Assert.Equal(HttpStatusCode.Accepted, batch.StatusCode);
        Assert.Equal([2L, 3L, 4L], batchBody.GetProperty("sequences").EnumerateArray().Select(e => e.GetInt64()));

        var tenant = await S.WaitForAppliedAsync("rest-round-trip", key, 4);
        Assert.Equal(4, tenant.GetProperty("examplesApplied").GetInt64());
        Assert.Equal(4, tenant.GetProperty("examplesAccepted").GetInt64());
        Assert.Equal(0, tenant.GetProperty("examplesRejected").GetInt64());
        Assert.Equal(4, tenant.GetProperty("lastAppliedSequence").GetInt64());
        Assert.Equal("minilm-l6", tenant.GetProperty("preset").GetString());
        Assert.Equal(["computers", "food"], tenant.GetProperty("labels").EnumerateArray().Select(e => e.GetString()));
        double accuracy = tenant.GetProperty("onlineAccuracy").GetDouble();
        Assert.InRange(accuracy, 0, 1);

        var (predict, prediction) = await S.SendAsync(HttpMethod.Post, "/v1/tenants/rest-round-trip/predict", key, new { text = "my laptop will not boot" });
        Assert.Equal(HttpStatusCode.OK, predict.StatusCode);
        Assert.Contains(prediction.GetProperty("label").GetString(), new[] { "computers", "food" });
        var probabilities = prediction.GetProperty("probabilities").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble());
        Assert.Equal(["computers", "food"], probabilities.Keys.Order());
        Assert.Equal(1.0, probabilities.Values.Sum(), 5);
        Assert.Equal(4, prediction.GetProperty("adapterVersion").GetInt64());

        var (checkpoint, checkpointBody) = await S.SendAsync(HttpMethod.Post, "/v1/tenants/rest-round-trip/checkpoints", key);
        Assert.Equal(HttpStatusCode.Created, checkpoint.StatusCode);
        Assert.Equal(4, checkpointBody.GetProperty("lastAppliedSequence").GetInt64());
        Assert.True(checkpointBody.GetProperty("noiseTrace").GetDouble() > 0);
        var (_, list) = await S.SendAsync(HttpMethod.Get, "/v1/tenants/rest-round-trip/checkpoints", key);
        Assert.Single(list.EnumerateArray());

        var theta = await S.DownloadThetaAsync("rest-round-trip", key);
        Assert.NotEmpty(theta);
        Assert.All(theta, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public async Task ARepeatedExampleIdReturnsTheOriginalSequenceAndIsLearnedOnce()
    {
        var key = await S.CreateTenantAsync("idempotent");
        var example = new { text = "install the new kernel", label = "computers", exampleId = "ex-1" };
        var (first, firstBody) = await S.SendAsync(HttpMethod.Post, "/v1/tenants/idempotent/examples", key, example);
        var (second, secondBody) = await S.SendAsync(HttpMethod.Post, "/v1/tenants/idempotent/examples", key, example);
        var (batch, batchBody) = await S.SendAsync(HttpMethod.Post, "/v1/tenants/idempotent/examples", key, new object[]
        {
            new { text = "fresh pasta with basil", label = "food", exampleId = "ex-2" },
            example,
            new { text = "fresh pasta with basil", label = "food", exampleId = "ex-2" },
        });
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, batch.StatusCode);
        Assert.Equal(1, firstBody.GetProperty("sequence").GetInt64());
        Assert.Equal(1, secondBody.GetProperty("sequence").GetInt64());
        Assert.Equal([2L, 1L, 2L], batchBody.GetProperty("sequences").EnumerateArray().Select(e => e.GetInt64()));
        var tenant = await S.WaitForAppliedAsync("idempotent", key, 2);
        Assert.Equal(2, tenant.GetProperty("examplesAccepted").GetInt64());
        Assert.Equal(2, tenant.GetProperty("examplesApplied").GetInt64());
    }

    [Fact]
    public async Task TenantsWithTheSameSeedAndTheSameExamplesEndWithTheSameAdapter()
    {
        var keys = new Dictionary<string, string>
        {
            ["seed-a"] = await S.CreateTenantAsync("seed-a", seed: 7),
            ["seed-b"] = await S.CreateTenantAsync("seed-b", seed: 7),
            ["seed-c"] = await S.CreateTenantAsync("seed-c", seed: 8),
        };
        var examples = TopicExamples.Make(6).Select(e => new { text = e.Text, label = e.Label }).ToArray();
        var theta = new Dictionary<string, float[]>();
        foreach (var (tenant, key) in keys)
        {
            var (response, _) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, examples);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            var described = await S.WaitForAppliedAsync(tenant, key, examples.Length);
            Assert.Equal(tenant == "seed-c" ? 8 : 7, described.GetProperty("seed").GetInt64());
            theta[tenant] = await S.DownloadThetaAsync(tenant, key);
        }
        Assert.Equal(theta["seed-a"], theta["seed-b"]);
        Assert.NotEqual(theta["seed-a"], theta["seed-c"]);

        // Unset, the seed is chosen at random and shown.
        var randomKey = await S.CreateTenantAsync("seed-random");
        var (_, random) = await S.SendAsync(HttpMethod.Get, "/v1/tenants/seed-random", randomKey);
        Assert.InRange(random.GetProperty("seed").GetInt64(), 0, int.MaxValue);
    }

    [Fact]
    public async Task TheFilterVariantIsStoredResolvedAndShownInTheDescription()
    {
        async Task<JsonElement> CreateAndDescribe(string tenantId, object? filter, string optimizer = "loko")
        {
            var (created, body) = await S.SendAsync(HttpMethod.Post, "/v1/tenants", LoKOTestServer.AdminKey,
                new { tenantId, preset = "minilm-l6", labels = new[] { "a", "b" }, optimizer, lora = new { rank = 2 }, filter });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            var (response, described) = await S.SendAsync(HttpMethod.Get, $"/v1/tenants/{tenantId}", body.GetProperty("apiKey").GetString());
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return described.GetProperty("filter");
        }

        var unnamed = await CreateAndDescribe("variant-default", filter: null);
        Assert.Equal(LokoVariants.Default, unnamed.GetProperty("variant").GetString());
        var paper = await CreateAndDescribe("variant-paper", new { variant = "paper", r0 = 0.5 });
        Assert.Equal("paper", paper.GetProperty("variant").GetString());
        Assert.Equal(0.5, paper.GetProperty("r0").GetDouble());
        // The gradient baselines use no filter: nothing is added to what they were given.
        var sgd = await CreateAndDescribe("variant-sgd", new { learningRate = 0.05 }, optimizer: "sgd");
        Assert.False(sgd.TryGetProperty("variant", out _));
        Assert.Equal(0.05, sgd.GetProperty("learningRate").GetDouble());
    }

    [Fact]
    public async Task ATenantKeyReachesOnlyItsOwnTenant()
    {
        var keyA = await S.CreateTenantAsync("isolation-a");
        await S.CreateTenantAsync("isolation-b");
        foreach (var (method, path, body) in new (HttpMethod, string, object?)[]
                 {
                     (HttpMethod.Get, "/v1/tenants/isolation-b", null),
                     (HttpMethod.Post, "/v1/tenants/isolation-b/examples", new { text = "hello", label = "food" }),
                     (HttpMethod.Post, "/v1/tenants/isolation-b/predict", new { text = "hello" }),
                     (HttpMethod.Get, "/v1/tenants/isolation-b/adapter", null),
                     (HttpMethod.Delete, "/v1/tenants/isolation-b", null),
                     (HttpMethod.Post, "/v1/tenants", new { tenantId = "isolation-c", preset = "minilm-l6", labels = new[] { "a", "b" } }),
                 })
        {
            var (response, problem) = await S.SendAsync(method, path, keyA, body);
            Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{method} {path}: {response.StatusCode}");
            AssertProblem(response, problem, 403);
        }
        var (own, _) = await S.SendAsync(HttpMethod.Get, "/v1/tenants/isolation-a", keyA);
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
    }

    [Fact]
    public async Task ClientMistakesAreProblemDetailsNamingTheField()
    {
        var key = await S.CreateTenantAsync("bad-inputs");
        const string examples = "/v1/tenants/bad-inputs/examples";

        var (unknown, unknownBody) = await S.SendAsync(HttpMethod.Get, "/v1/tenants/no-such-tenant", LoKOTestServer.AdminKey);
        AssertProblem(unknown, unknownBody, 404);
        var (unknownPost, unknownPostBody) = await S.SendAsync(HttpMethod.Post, "/v1/tenants/no-such-tenant/examples", LoKOTestServer.AdminKey, new { text = "x", label = "food" });
        AssertProblem(unknownPost, unknownPostBody, 404);

        var (badKey, badKeyBody) = await S.SendAsync(HttpMethod.Get, "/v1/tenants/bad-inputs", "not-a-key");
        AssertProblem(badKey, badKeyBody, 401);
        Assert.Contains("Bearer", badKey.Headers.WwwAuthenticate.ToString());
        var (noKey, noKeyBody) = await S.SendAsync(HttpMethod.Get, "/v1/tenants/bad-inputs", null);
        AssertProblem(noKey, noKeyBody, 401);

        AssertField(await S.SendAsync(HttpMethod.Post, examples, key, new { text = "a sandwich", label = "sports" }), "label");
        AssertField(await S.SendAsync(HttpMethod.Post, examples, key, new { text = "a sandwich" }), "label");
        AssertField(await S.SendAsync(HttpMethod.Post, examples, key, new { text = "", label = "food" }), "text");
        AssertField(await S.SendAsync(HttpMethod.Post, examples, key, new { text = "   ", label = "food" }), "text");
        AssertField(await S.SendAsync(HttpMethod.Post, examples, key, new { text = new string('x', 10_001), label = "food" }), "text");
        AssertField(await S.SendAsync(HttpMethod.Post, examples, key, new { label = "food" }), "text");
        AssertField(await S.SendAsync(HttpMethod.Post, examples, key, new { pixels = new { width = 2, height = 1, values = new[] { 1.0, 2.0 } }, label = "food" }), "pixels");
        AssertField(await S.SendAsync(HttpMethod.Post, examples, key, rawJson: "{\"text\": \"soup\", \"label\": \"food\", \"colour\": 1}"), "colour");
        AssertField(await S.SendAsync(HttpMethod.Post, examples, key, rawJson: "{\"text\": 42, \"label\": \"food\"}"), "text");
        AssertField(await S.SendAsync(HttpMethod.Post, examples, key, rawJson: "{\"text\": \"soup\", \"label\": "), "body");
        AssertField(await S.SendAsync(HttpMethod.Post, examples, key, rawJson: "[]"), "body");
        AssertField(await S.SendAsync(HttpMethod.Post, examples, key, rawJson: "[{\"text\": \"soup\", \"label\": \"food\"}, {\"text\": \"soup\", \"label\": \"nope\"}]"), "[1].label");
        AssertField(await S.SendAsync(HttpMethod.Post, "/v1/tenants/bad-inputs/predict", key, new { text = "" }), "text");
        AssertField(await S.SendAsync(HttpMethod.Post, "/v1/tenants/bad-inputs/rollback", key, new { version = 99 }), "version");
        AssertField(await S.SendAsync(HttpMethod.Post, "/v1/tenants", LoKOTestServer.AdminKey, new { tenantId = "x", preset = "gpt-9", labels = new[] { "a", "b" } }), "preset");
        AssertField(await S.SendAsync(HttpMethod.Post, "/v1/tenants", LoKOTestServer.AdminKey, new { tenantId = "../etc", preset = "minilm-l6", labels = new[] { "a", "b" } }), "tenantId");
        AssertField(await S.SendAsync(HttpMethod.Post, "/v1/tenants", LoKOTestServer.AdminKey, new { tenantId = "one-label", preset = "minilm-l6", labels = new[] { "a" } }), "labels");
        AssertField(await S.SendAsync(HttpMethod.Post, "/v1/tenants", LoKOTestServer.AdminKey, new { tenantId = "r", preset = "minilm-l6", labels = new[] { "a", "b" }, lora = new { rank = 0 } }), "lora.rank");
        AssertField(await S.SendAsync(HttpMethod.Post, "/v1/tenants", LoKOTestServer.AdminKey, new { tenantId = "s", preset = "minilm-l6", labels = new[] { "a", "b" }, seed = -1 }), "seed");
        AssertField(await S.SendAsync(HttpMethod.Post, "/v1/tenants", LoKOTestServer.AdminKey, new { tenantId = "o", preset = "minilm-l6", labels = new[] { "a", "b" }, optimizer = "rmsprop" }), "optimizer");
        AssertField(await S.SendAsync(HttpMethod.Post, "/v1/tenants", LoKOTestServer.AdminKey, new { tenantId = "v", preset = "minilm-l6", labels = new[] { "a", "b" }, filter = new { variant = "no-such-variant" } }), "filter.variant");
        AssertField(await S.SendAsync(HttpMethod.Post, "/v1/tenants", LoKOTestServer.AdminKey, new { tenantId = "l", preset = "minilm-l6", labels = new[] { "a", "b" }, optimizer = "sgd", filter = new { learningRate = 0 } }), "filter.learningRate");
        AssertField(await S.SendAsync(HttpMethod.Post, "/v1/tenants", LoKOTestServer.AdminKey, rawJson: "{\"tenantId\": \"s\", \"preset\": \"minilm-l6\", \"labels\": [\"a\", \"b\"], \"seed\": 1.5}"), "seed");

        var (exists, existsBody) = await S.SendAsync(HttpMethod.Post, "/v1/tenants", LoKOTestServer.AdminKey, new { tenantId = "bad-inputs", preset = "minilm-l6", labels = new[] { "a", "b" } });
        AssertProblem(exists, existsBody, 409);

        // None of the rejected examples reached the log.
        var (_, tenant) = await S.SendAsync(HttpMethod.Get, "/v1/tenants/bad-inputs", key);
        Assert.Equal(0, tenant.GetProperty("examplesAccepted").GetInt64());
    }

    [Fact]
    public async Task HealthAndSwaggerAnswer()
    {
        Assert.Equal(HttpStatusCode.OK, (await S.Http.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await S.Http.GetAsync("/readyz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await S.Http.GetAsync("/swagger/index.html")).StatusCode);
        var spec = await S.Http.GetStringAsync("/swagger/v1/swagger.json");
        Assert.Contains("/v1/tenants/{tenantId}/examples", spec);
    }

    static void AssertField((HttpResponseMessage Response, JsonElement Body) result, string field)
    {
        AssertProblem(result.Response, result.Body, 400);
        var errors = result.Body.GetProperty("errors").EnumerateObject().Select(p => p.Name).ToList();
        Assert.True(errors.Contains(field), $"expected an error on '{field}', got [{string.Join(", ", errors)}]: {result.Body}");
    }

    static void AssertProblem(HttpResponseMessage response, JsonElement body, int status)
    {
        Assert.True((int)response.StatusCode == status, $"expected {status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(status, body.GetProperty("status").GetInt32());
    }
}
