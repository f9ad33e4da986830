using Grpc.Core;
using Grpc.Net.Client;
using LoKO.Bench.Serving;
using LoKO.Contracts.V1;

namespace LoKO.Bench.Load;

/// <summary>
/// The service as a client sees it: the generated gRPC client of the public contract for tenants, examples and
/// predictions, and REST for readiness and the Prometheus metrics. Every failure becomes a <see cref="LoadFailure"/>
/// that names the call and what to check.
/// </summary>
sealed class LoadClient : IDisposable
{
    // Generous: a first call may load the base model on a slow machine.
    static readonly TimeSpan CallTimeout = TimeSpan.FromMinutes(5);
    const string StepMetric = "loko_step_duration_seconds";

    readonly Uri _rest, _grpc;
    readonly HttpClient _http;
    readonly GrpcChannel _channel;
    readonly Contracts.V1.LoKO.LoKOClient _client;
    readonly Metadata _admin;

    public LoadClient(Uri rest, Uri grpc, string adminKey)
    {
        _rest = rest;
        _grpc = grpc;
        _http = new HttpClient { BaseAddress = rest, Timeout = TimeSpan.FromSeconds(30) };
        _channel = GrpcChannel.ForAddress(grpc);
        _client = new Contracts.V1.LoKO.LoKOClient(_channel);
        _admin = Bearer(adminKey);
    }

    static Metadata Bearer(string key) => new() { { "authorization", "Bearer " + key } };

    static DateTime Deadline => DateTime.UtcNow + CallTimeout;

    /// <summary>Fails unless /readyz answers; gives the device and batching setting the server names (null from a server that does not say).</summary>
    public async Task<ServerReadiness> RequireReadyAsync()
    {
        try
        {
            using var response = await _http.GetAsync("/readyz");
            if (!response.IsSuccessStatusCode)
                throw new LoadFailure($"the server at {_rest} is not ready: GET /readyz answered {(int)response.StatusCode} {response.ReasonPhrase}");
            var body = await response.Content.ReadAsStringAsync();
            try
            {
                using var json = System.Text.Json.JsonDocument.Parse(body);
                var root = json.RootElement;
                var device = root.TryGetProperty("device", out var d) ? d.GetString() : null;
                var batching = root.TryGetProperty("batchTenants", out var b) && b.ValueKind == System.Text.Json.JsonValueKind.Object
                    ? new ServerBatching(b.GetProperty("maxTenants").GetInt32(), b.GetProperty("maxWaitMs").GetDouble())
                    : null;
                return new ServerReadiness(device, batching);
            }
            catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
            {
                return new ServerReadiness(null, null);
            }
        }
        catch (HttpRequestException e)
        {
            throw new LoadFailure($"no server answers at --target {_rest} ({e.Message})");
        }
        catch (TaskCanceledException)
        {
            throw new LoadFailure($"the server at --target {_rest} did not answer GET /readyz within {_http.Timeout.TotalSeconds:F0} s");
        }
    }

    /// <summary>A minilm-l6 tenant with the given labels and the default optimizer (loko) and LoRA settings.</summary>
    public async Task<LoadTenant> CreateTenantAsync(string tenantId, string preset, IReadOnlyList<string> labels)
    {
        var request = new CreateTenantRequest { TenantId = tenantId, Preset = preset, Labels = { labels } };
        var created = await Guard($"CreateTenant {tenantId}", "--admin-key", () => _client.CreateTenantAsync(request, _admin, Deadline).ResponseAsync);
        return new LoadTenant(created.TenantId, Bearer(created.ApiKey));
    }

    public Task<Tenant> GetTenantAsync(LoadTenant tenant, CancellationToken ct) =>
        Guard($"GetTenant {tenant.Id}", null, () => _client.GetTenantAsync(new TenantRef { TenantId = tenant.Id }, tenant.Key, Deadline, ct).ResponseAsync);

    public Task<Prediction> PredictAsync(LoadTenant tenant, string text) =>
        Guard($"Predict {tenant.Id}", null, () =>
            _client.PredictAsync(new PredictRequest { TenantId = tenant.Id, Input = new Input { Text = text } }, tenant.Key, Deadline).ResponseAsync);

    public Task DeleteTenantAsync(LoadTenant tenant) =>
        Guard($"DeleteTenant {tenant.Id}", "--admin-key", () => _client.DeleteTenantAsync(new TenantRef { TenantId = tenant.Id }, _admin, Deadline).ResponseAsync);

    /// <summary>A Learn stream with the tenant's own key; its failures go through <see cref="Explain"/>.</summary>
    public AsyncDuplexStreamingCall<Example, Ack> Learn(LoadTenant tenant, CancellationToken ct) => _client.Learn(tenant.Key, cancellationToken: ct);

    /// <summary>
    /// Mean server-side step time (ms) of these tenants, from the <c>loko_step_duration_seconds</c> histogram at
    /// <c>/metrics</c>; null when the server does not report it for them.
    /// </summary>
    public async Task<double?> MeanStepMsAsync(IReadOnlyCollection<string> tenantIds)
    {
        if (await MetricsAsync() is not { } metrics) return null;
        bool Ours(string labels) => tenantIds.Any(id => labels.Contains($"tenant=\"{id}\"", StringComparison.Ordinal));
        double sum = metrics.Sum(StepMetric + "_sum", Ours) ?? 0, count = metrics.Sum(StepMetric + "_count", Ours) ?? 0;
        return count > 0 ? 1000 * sum / count : null;
    }

    /// <summary>The server's cross-tenant batch counters, or null when it does not report them.</summary>
    public async Task<BatchCounts?> BatchCountsAsync() => BatchCounts.Of(await MetricsAsync());

    /// <summary>The server's <c>/metrics</c>, or null when it does not answer.</summary>
    public async Task<PrometheusText?> MetricsAsync(CancellationToken ct = default)
    {
        try { return PrometheusText.Parse(await _http.GetStringAsync("/metrics", ct)); }
        catch (HttpRequestException) { return null; }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested) { return null; }
    }

    /// <summary>
    /// One Learn stream that sends <paramref name="examples"/> and waits for their acknowledgements; anything but
    /// ACCEPTED for each is a <see cref="LoadFailure"/>.
    /// </summary>
    public async Task LearnAsync(LoadTenant tenant, IReadOnlyList<LabeledText> examples, CancellationToken ct = default)
    {
        try
        {
            using var call = _client.Learn(tenant.Key, Deadline, ct);
            foreach (var e in examples)
                await call.RequestStream.WriteAsync(new Example { TenantId = tenant.Id, Input = new Input { Text = e.Text }, Label = e.Label }, ct);
            await call.RequestStream.CompleteAsync();
            int acked = 0;
            await foreach (var ack in call.ResponseStream.ReadAllAsync(ct))
            {
                if (ack.Status != AckStatus.Accepted)
                    throw new LoadFailure($"tenant {tenant.Id}: example {acked + 1} was acknowledged {ack.Status} ({ack.Field}: {ack.Error})");
                acked++;
            }
            if (acked != examples.Count) throw new LoadFailure($"tenant {tenant.Id}: the Learn stream ended after {acked} of {examples.Count} acknowledgements");
        }
        catch (RpcException e) when (e.StatusCode != StatusCode.Cancelled) { throw Explain(e, $"Learn {tenant.Id}"); }
    }

    async Task<T> Guard<T>(string what, string? keyOption, Func<Task<T>> call)
    {
        try { return await call(); }
        // A cancelled call was stopped on purpose (another failure, or a stall); the caller reports that.
        catch (RpcException e) when (e.StatusCode != StatusCode.Cancelled) { throw Explain(e, what, keyOption); }
    }

    public LoadFailure Explain(RpcException e, string what, string? keyOption = null) => new(e.StatusCode switch
    {
        StatusCode.Unavailable => $"{what}: the gRPC endpoint --grpc {_grpc} does not answer ({e.Status.Detail})",
        StatusCode.Unauthenticated or StatusCode.PermissionDenied =>
            $"{what}: the key was refused ({e.StatusCode}: {e.Status.Detail}){(keyOption is null ? "" : $"; check {keyOption}")}",
        StatusCode.DeadlineExceeded => $"{what}: no answer within {CallTimeout.TotalMinutes:F0} min",
        _ => $"{what}: {e.StatusCode}: {e.Status.Detail}",
    });

    public void Dispose()
    {
        _channel.Dispose();
        _http.Dispose();
    }
}
