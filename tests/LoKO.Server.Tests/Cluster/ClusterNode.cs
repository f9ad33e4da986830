using LoKO.Server.Tests.Fixtures;
using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Grpc.Core;
using Grpc.Net.Client;
using LoKO.Bench.Chaos;
using LoKO.Bench.Serving;

namespace LoKO.Server.Tests.Cluster;

/// <summary>
/// The built server as a child process (<see cref="ServerProcess"/>, SIGKILLed by <see cref="Kill"/>) on the shared
/// PostgreSQL metadata store, with its REST and gRPC clients (admin key), and the tenants it has activated, read from
/// its log ("Activated tenant … epoch n").
/// </summary>
public sealed partial class ClusterNode : IAsyncDisposable
{
    readonly ServerProcess _process;
    readonly HttpClient _http;
    readonly GrpcChannel _channel;
    readonly ConcurrentDictionary<string, long> _activations = new(StringComparer.Ordinal);

    ClusterNode(string name, ServerProcess process)
    {
        Name = name;
        _process = process;
        _http = new HttpClient { BaseAddress = process.Rest, Timeout = TimeSpan.FromSeconds(60) };
        _channel = GrpcChannel.ForAddress(process.Grpc);
        Grpc = new Contracts.V1.LoKO.LoKOClient(_channel);
        process.Line += Watch;
    }

    public string Name { get; }
    public Contracts.V1.LoKO.LoKOClient Grpc { get; }
    public static Metadata Admin { get; } = new() { { "authorization", "Bearer " + LoKOTestServer.AdminKey } };
    public bool HasExited => _process.HasExited;
    public string OutputTail() => _process.OutputTail();

    /// <summary>The epoch of each tenant's latest activation on this node.</summary>
    public IReadOnlyDictionary<string, long> Activations => _activations;

    /// <summary>Settings every node of these tests shares: small inputs, frequent checkpoints, activations logged.</summary>
    public static readonly string[] CommonSettings =
    [
        "--LoKO:MaxTokens=16",
        "--LoKO:CheckpointEverySteps=10",
        "--LoKO:CheckpointEverySeconds=3600",
        "--LoKO:CheckpointOnShutdown=false",
        "--Logging:LogLevel:Default=Warning",
        "--Logging:LogLevel:LoKO.Server.Tenants.TenantActor=Information",
        "--Logging:LogLevel:Microsoft.EntityFrameworkCore=Warning",
    ];

    public static async Task<ClusterNode> StartAsync(string name, string dataDirectory, IEnumerable<string> settings)
    {
        var (process, _) = await ServerProcess.StartReadyAsync(ServerProcess.BuiltServerPath(), dataDirectory, LoKOTestServer.AdminKey,
            [.. CommonSettings, .. settings], TimeSpan.FromSeconds(120));
        return new ClusterNode(name, process);
    }

    [GeneratedRegex(@"Activated tenant (\S+): epoch (\d+)")]
    private static partial Regex ActivatedLine();

    void Watch(string line)
    {
        if (ActivatedLine().Match(line) is { Success: true } m) _activations[m.Groups[1].Value] = long.Parse(m.Groups[2].Value);
    }

    public Task<(HttpResponseMessage Response, JsonElement Body)> SendAsync(HttpMethod method, string path, string? key, object? json = null) =>
        JsonRequests.SendAsync(_http, method, path, key, json);

    public async Task<float[]> ThetaAsync(string tenantId)
    {
        var file = await Grpc.ExportAdapterAsync(new Contracts.V1.TenantRef { TenantId = tenantId }, Admin);
        return LoKOTestServer.ThetaOf(file.Safetensors.ToByteArray());
    }

    /// <summary>The tenant once it has applied <paramref name="count"/> examples.</summary>
    public async Task<Contracts.V1.Tenant> WaitAppliedAsync(string tenantId, long count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
        while (true)
        {
            var tenant = await Grpc.GetTenantAsync(new Contracts.V1.TenantRef { TenantId = tenantId }, Admin);
            if (tenant.ExamplesApplied >= count) return tenant;
            if (DateTime.UtcNow > deadline) Assert.Fail($"{Name}: tenant {tenantId} did not apply {count} examples in time: {tenant}\n{OutputTail()}");
            await Task.Delay(100);
        }
    }

    /// <summary>SIGKILL: no shutdown hooks, no checkpoint, no goodbye to the cluster.</summary>
    public void Kill() => _process.Kill();

    public async ValueTask DisposeAsync()
    {
        _process.Line -= Watch;
        await _process.DisposeAsync();
        _channel.Dispose();
        _http.Dispose();
    }
}
