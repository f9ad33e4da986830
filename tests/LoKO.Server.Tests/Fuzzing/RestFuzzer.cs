using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace LoKO.Server.Tests.Fuzzing;

/// <summary>
/// Sends fuzzed requests to the REST API and records what came back: the status of every answer, every fault (a 5xx or
/// no answer at all), and every acknowledgement of an accepted example (202 from …/examples and …/feedback).
/// </summary>
public sealed class RestFuzzer(IReadOnlyList<RestRoute> routes, FuzzTargets targets, FuzzLedger ledger, HttpClient http, long maxRequestBytes)
{
    public const string Api = "REST";

    readonly WeightedDraw<RestRoute> _routes = new(routes, RestGenerators.Weight);

    /// <summary>A client that sends what it is given: any header bytes (Latin-1), no redirects, a long timeout.</summary>
    public static HttpClient Client(Uri baseAddress) => new(new SocketsHttpHandler
    {
        RequestHeaderEncodingSelector = (_, _) => Encoding.Latin1,
        AllowAutoRedirect = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
    })
    { BaseAddress = baseAddress, Timeout = TimeSpan.FromMinutes(2) };

    public async Task SendOneAsync(Random rng)
    {
        var route = _routes.Next(rng);
        if (Draw(route, rng) is { } request) await SendAsync(request);
    }

    /// <summary>A request for <paramref name="route"/>, valid now and then; never one that <see cref="FuzzTargets.Forbidden"/> rules out.</summary>
    RestCase? Draw(RestRoute route, Random rng)
    {
        var generate = RestGenerators.ByRoute[route.Key];
        for (int attempt = 0; attempt < 20; attempt++)
        {
            var request = generate(new RestDraft(route, rng, targets, fuzzed: FuzzSettings.Fuzzed(rng)));
            if (!targets.Forbidden(request.Operation, SentTenantId(request), request.Authorization) && !CreatesTenant(request)) return request;
        }
        return null;
    }

    /// <summary>A creation body the server would read as a new tenant's (the id check alone cannot see into the body).</summary>
    bool CreatesTenant(RestCase request)
    {
        if (request.Operation != FuzzOperation.Create || request.Body.Bytes is not { } bytes) return false;
        try
        {
            using var document = JsonDocument.Parse(bytes);
            var body = global::LoKO.Server.Api.JsonBody.Convert<Contracts.Rest.CreateTenantRequest>(document.RootElement, "");
            return targets.Forbidden(FuzzOperation.Create, body.TenantId, request.Authorization);
        }
        catch (Exception e) when (e is JsonException or Contracts.Validation.FieldValidationException or ArgumentException) { return false; }
    }

    /// <summary>The tenant id the server reads from the path (percent-decoded, as routing does).</summary>
    static string? SentTenantId(RestCase request)
    {
        var segments = request.PathAndQuery.Split('?')[0].Split('/');
        if (segments.Length < 4 || segments[1] != "v1" || segments[2] != "tenants") return null;
        try { return Uri.UnescapeDataString(segments[3]); }
        catch (UriFormatException) { return null; }
    }

    async Task SendAsync(RestCase request)
    {
        HttpRequestMessage message;
        try
        {
            message = new HttpRequestMessage(request.Method, new Uri(http.BaseAddress!, request.PathAndQuery));
        }
        catch (UriFormatException)
        {
            ledger.Answer(Api, request.Route.Key, "not sent (bad URI)", TimeSpan.Zero);
            return;
        }
        if (request.Authorization is not null) message.Headers.TryAddWithoutValidation("Authorization", request.Authorization);
        if (request.Body.Bytes is { } bytes)
        {
            message.Content = new ByteArrayContent(bytes);
            // A body past the limit is refused before it is read, and the connection closes: without asking first, the
            // client may still be writing it when the connection goes, and lose the answer (RFC 9110, 10.1.1).
            message.Headers.ExpectContinue = bytes.Length > maxRequestBytes;
            if (request.Body.ContentType is not null) message.Content.Headers.TryAddWithoutValidation("Content-Type", request.Body.ContentType);
        }
        var tenantId = SentTenantId(request);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            using var response = await http.SendAsync(message);
            var body = await response.Content.ReadAsByteArrayAsync();
            int status = (int)response.StatusCode;
            ledger.Answer(Api, request.Route.Key, status.ToString(System.Globalization.CultureInfo.InvariantCulture), clock.Elapsed);
            if (status >= 500) ledger.Fault($"{Api} {status}: {request.Describe()} → {Excerpt(body)}");
            else if (status is >= 200 and < 300 && status != RestGenerators.Success(request.Route) && !(request.Method == HttpMethod.Head && status == 200))
                ledger.Fault($"{Api} {status}, not the route's success status {RestGenerators.Success(request.Route)}: {request.Describe()} → {Excerpt(body)}");
            else if (status >= 400 && request.PathAndQuery.StartsWith("/v1/", StringComparison.Ordinal)) CheckProblem(request, response, status, body);
            else if (request.Method != HttpMethod.Head)
            {
                try { Record(request, response.StatusCode, tenantId, body); }
                catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
                {
                    ledger.Fault($"{Api} {status} with a body that is not the route's answer ({e.Message}): {request.Describe()} → {Excerpt(body)}");
                }
            }
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            ledger.Answer(Api, request.Route.Key, "no answer", clock.Elapsed);
            ledger.Fault($"{Api} no answer ({Messages(e)}): {request.Describe()}");
        }
    }

    /// <summary>A client mistake on the API is a ProblemDetails answer; a 400 names the field.</summary>
    void CheckProblem(RestCase request, HttpResponseMessage response, int status, byte[] body)
    {
        if (request.Method == HttpMethod.Head || request.MalformedHttp) return; // no body, by definition; or refused by Kestrel
        var type = response.Content.Headers.ContentType?.MediaType;
        if (type != "application/problem+json")
        {
            ledger.Unnamed($"{Api} {status} without ProblemDetails (Content-Type {type ?? "none"}): {request.Describe()} → {Excerpt(body)}");
            return;
        }
        if (status != 400) return;
        using var problem = JsonDocument.Parse(body);
        if (!problem.RootElement.TryGetProperty("errors", out var errors) || !errors.EnumerateObject().Any())
            ledger.Unnamed($"{Api} 400 naming no field: {request.Describe()} → {Excerpt(body)}");
    }

    void Record(RestCase request, HttpStatusCode status, string? tenantId, byte[] body)
    {
        var route = request.Route.Key;
        if (status == HttpStatusCode.Accepted && (route.EndsWith("/examples", StringComparison.Ordinal) || route.EndsWith("/feedback", StringComparison.Ordinal)))
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            var sequences = root.TryGetProperty("sequences", out var many) ? many.EnumerateArray().Select(e => e.GetInt64()).ToList()
                                                                             : [root.GetProperty("sequence").GetInt64()];
            if (targets.Find(tenantId) is null) ledger.Fault($"{Api} 202 for a path that names no fuzzed tenant: {request.Describe()}");
            else foreach (var sequence in sequences) ledger.Acknowledged(tenantId!, sequence, $"{Api} {route}");
        }
        else if (status == HttpStatusCode.OK && route.EndsWith("/predict", StringComparison.Ordinal) && tenantId is not null)
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.TryGetProperty("predictionId", out var id)) targets.Predicted(tenantId, id.GetString()!);
        }
        else if (status == HttpStatusCode.Created && route.EndsWith("/checkpoints", StringComparison.Ordinal) && tenantId is not null)
        {
            using var document = JsonDocument.Parse(body);
            targets.CheckpointWritten(tenantId, document.RootElement.GetProperty("version").GetInt64());
        }
        else if (status == HttpStatusCode.NoContent && request.Method == HttpMethod.Delete && tenantId is not null)
        {
            targets.Deleted(tenantId);
        }
        else if (status == HttpStatusCode.Created && request.Operation == FuzzOperation.Create)
        {
            ledger.Fault($"{Api} created a tenant the fuzzer meant not to create: {request.Describe()}");
        }
    }

    /// <summary>An exception with its inner ones.</summary>
    public static string Messages(Exception e)
    {
        var parts = new List<string>();
        for (Exception? x = e; x is not null; x = x.InnerException) parts.Add($"{x.GetType().Name}: {x.Message}");
        return string.Join(" ← ", parts);
    }

    static string Excerpt(byte[] body) => Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, 400));
}
