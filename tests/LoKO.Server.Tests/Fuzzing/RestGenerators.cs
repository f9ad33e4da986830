using System.Text.Json.Nodes;

namespace LoKO.Server.Tests.Fuzzing;

/// <summary>
/// A generator for every REST route the server maps, keyed as <see cref="RestRoute.Key"/>: each builds a valid request
/// for its route, which <see cref="RestDraft"/> then breaks when fuzzing. A route without one fails the test.
/// </summary>
public static class RestGenerators
{
    static readonly string[] Optimizers = ["loko", "adamw", "adagrad", "sgd"];

    public static readonly IReadOnlyDictionary<string, Func<RestDraft, RestCase>> ByRoute = new Dictionary<string, Func<RestDraft, RestCase>>
    {
        ["POST /v1/tenants"] = d => d.AsAdmin().Build(CreateBody(d), operation: FuzzOperation.Create),
        ["GET /v1/tenants/{tenantId}"] = d => d.ForTenant().Build(null),
        ["DELETE /v1/tenants/{tenantId}"] = d => d.ForTenant(d.Rng.Next(3) == 0 ? d.Targets.Doomed : null).Build(null, operation: FuzzOperation.Delete),
        ["POST /v1/tenants/{tenantId}/examples"] = d => d.ForTenant().Build(ExamplesBody(d)),
        ["POST /v1/tenants/{tenantId}/labels"] = d =>
            d.ForTenant().Build(new JsonObject { ["labels"] = new JsonArray([.. FuzzTargets.NewLabels(d.Rng).Select(l => (JsonNode)l)]) }),
        ["POST /v1/tenants/{tenantId}/predict"] = d => d.ForTenant().Build(PredictBody(d.Rng)),
        ["POST /v1/tenants/{tenantId}/feedback"] = d =>
        {
            d.ForTenant();
            return d.Build(new JsonObject { ["predictionId"] = d.Targets.PredictionId(d.Rng, d.TenantId), ["label"] = d.Targets.Label(d.Rng) });
        },
        ["GET /v1/tenants/{tenantId}/noise"] = d => d.ForTenant().Build(null),
        ["GET /v1/tenants/{tenantId}/checkpoints"] = d => d.ForTenant().Build(null),
        ["POST /v1/tenants/{tenantId}/checkpoints"] = d => d.ForTenant().Build(null),
        ["POST /v1/tenants/{tenantId}/rollback"] = d =>
            d.ForTenant(d.Rng.Next(4) > 0 ? d.Targets.Other : null).Build(new JsonObject { ["version"] = d.Targets.Version(d.Rng) }, operation: FuzzOperation.Rollback),
        ["POST /v1/tenants/{tenantId}/resume"] = d => d.ForTenant().Build(null),
        ["GET /v1/tenants/{tenantId}/adapter"] = d => d.ForTenant().Build(null, AdapterQuery(d)),
        // Any valid key lists the models: a tenant's or the admin's.
        ["GET /v1/models"] = d => (d.Rng.Next(2) == 0 ? d.AsAdmin() : d.ForTenant()).Build(null),
        ["* /healthz"] = Probe,
        ["* /readyz"] = Probe,
        ["* /metrics"] = Probe,
    };

    /// <summary>
    /// How often a route is drawn, relative to 1: the routes that take examples and predictions most (their validation
    /// is the largest surface), the ones that hold the tenant's compute loop for long (checkpoint, rollback, export) least.
    /// </summary>
    public static double Weight(RestRoute route) => route.Key switch
    {
        "POST /v1/tenants/{tenantId}/examples" or "POST /v1/tenants/{tenantId}/predict" => 3,
        "POST /v1/tenants/{tenantId}/feedback" or "POST /v1/tenants" => 2,
        "POST /v1/tenants/{tenantId}/checkpoints" or "POST /v1/tenants/{tenantId}/rollback" or "GET /v1/tenants/{tenantId}/adapter" or "GET /v1/models" => 0.4,
        _ when route.Method == "*" => 0.3,
        _ => 1,
    };

    /// <summary>The one success status of a route: any other 2xx answers something else than the route.</summary>
    public static int Success(RestRoute route) => route.Key switch
    {
        "POST /v1/tenants" or "POST /v1/tenants/{tenantId}/checkpoints" => 201,
        "POST /v1/tenants/{tenantId}/examples" or "POST /v1/tenants/{tenantId}/feedback" => 202,
        _ when route.Method == "DELETE" => 204,
        _ => 200,
    };

    static RestCase Probe(RestDraft d)
    {
        var methods = new[] { HttpMethod.Get, HttpMethod.Get, HttpMethod.Head, HttpMethod.Post, HttpMethod.Put, HttpMethod.Delete };
        var query = d.Fuzzed && d.Rng.Next(2) == 0 ? "?" + Uri.EscapeDataString(NastyValues.String(d.Rng)) + "=1" : "";
        return d.Anonymous().Build(null, query, method: d.Fuzzed ? methods[d.Rng.Next(methods.Length)] : HttpMethod.Get);
    }

    /// <summary>A creation request for a tenant that exists (409 when valid): the fuzzer never creates tenants.</summary>
    static JsonObject CreateBody(RestDraft d)
    {
        var rng = d.Rng;
        var t = d.Targets;
        var body = new JsonObject
        {
            ["tenantId"] = rng.Next(2) == 0 ? t.Main.Id : t.Other.Id,
            ["preset"] = "minilm-l6",
            ["labels"] = new JsonArray([.. t.Labels.Select(l => (JsonNode)l)]),
            ["lora"] = new JsonObject { ["rank"] = 2 },
        };
        if (rng.Next(2) == 0) body["optimizer"] = Optimizers[rng.Next(Optimizers.Length)];
        if (rng.Next(3) == 0) body["lora"]!["alpha"] = 16.0;
        if (rng.Next(4) == 0) body["lora"]!["targets"] = new JsonArray("*query*", "*value*");
        if (rng.Next(3) == 0)
            body["filter"] = new JsonObject { ["variant"] = "paper", ["r0"] = 0.5, ["beta"] = 0.5, ["q"] = 0.0, ["noise"] = "diagonal", ["p0"] = "auto" };
        if (rng.Next(3) == 0) body["seed"] = rng.Next(1000);
        if (rng.Next(3) == 0) body["quotas"] = new JsonObject { ["examplesPerSecond"] = 10.0, ["predictionsPerSecond"] = 5.0, ["maxLogEntries"] = 1000 };
        if (rng.Next(3) == 0) body["adapter"] = Convert.ToBase64String(rng.Next(3) == 0 ? NastyValues.Corrupted(t.PeftZip, rng) : t.PeftZip);
        return body;
    }

    static JsonNode ExamplesBody(RestDraft d)
    {
        JsonObject One()
        {
            var example = new JsonObject { ["text"] = FuzzTargets.Text(d.Rng), ["label"] = d.Targets.Label(d.Rng) };
            if (FuzzTargets.ExampleId(d.Rng) is { } id) example["exampleId"] = id;
            return example;
        }
        return d.Rng.Next(4) == 0 ? new JsonArray([.. Enumerable.Range(0, d.Rng.Next(1, 4)).Select(_ => (JsonNode)One())]) : One();
    }

    static JsonObject PredictBody(Random rng) => rng.Next(10) switch
    {
        0 => new JsonObject { ["imageBase64"] = Convert.ToBase64String([0x89, 0x50, 0x4E, 0x47]) },
        1 => new JsonObject { ["pixels"] = new JsonObject { ["width"] = 2, ["height"] = 1, ["values"] = new JsonArray(1.0, 2.0) } },
        _ => new JsonObject { ["text"] = FuzzTargets.Text(rng) },
    };

    static string AdapterQuery(RestDraft d) => d.Rng.Next(d.Fuzzed ? 8 : 3) switch
    {
        0 => "",
        1 => "?format=safetensors",
        2 => "?format=peft",
        3 => "?format=peft&format=safetensors",
        4 => "?format=",
        5 => "?format",
        6 => "?format=%FF%FE",
        _ => "?format=" + Uri.EscapeDataString(NastyValues.Sized(d.Rng, d.Rng.Next(1, 3000))),
    };
}
