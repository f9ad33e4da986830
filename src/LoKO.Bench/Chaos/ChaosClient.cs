using Grpc.Core;
using Grpc.Net.Client;
using LoKO.Contracts.V1;
using LoKO.Engine.Checkpoints;

namespace LoKO.Bench.Chaos;

/// <summary>
/// One client of one server process: its own HTTP/2 connection (channel) and the generated client of the public
/// contract, every call with the admin key (which the contract accepts for every tenant).
/// </summary>
sealed class ChaosClient : IDisposable
{
    // Generous: after a restart the first call to a tenant loads the base model and replays its log.
    static readonly TimeSpan CallTimeout = TimeSpan.FromMinutes(5);

    readonly GrpcChannel _channel;
    readonly Contracts.V1.LoKO.LoKOClient _client;
    readonly Metadata _admin;

    public ChaosClient(Uri grpc, string adminKey)
    {
        _channel = GrpcChannel.ForAddress(grpc);
        _client = new Contracts.V1.LoKO.LoKOClient(_channel);
        _admin = new Metadata { { "authorization", "Bearer " + adminKey } };
    }

    static DateTime Deadline => DateTime.UtcNow + CallTimeout;

    public async Task CreateTenantAsync(ChaosTenant tenant, CancellationToken ct)
    {
        var request = new CreateTenantRequest
        {
            TenantId = tenant.Id, Preset = ChaosTenant.Preset, Labels = { tenant.Labels }, Optimizer = tenant.Optimizer,
            Lora = new LoraSettings { Rank = ChaosTenant.LoraRank }, Seed = tenant.Seed,
        };
        await _client.CreateTenantAsync(request, _admin, Deadline, ct);
    }

    public async Task<Tenant> GetTenantAsync(string tenantId, CancellationToken ct) =>
        await _client.GetTenantAsync(new TenantRef { TenantId = tenantId }, _admin, Deadline, ct);

    public AsyncDuplexStreamingCall<Example, Ack> Learn(CancellationToken ct) => _client.Learn(_admin, cancellationToken: ct);

    public async Task<CheckpointInfo> CheckpointAsync(string tenantId, CancellationToken ct) =>
        await _client.CheckpointAsync(new TenantRef { TenantId = tenantId }, _admin, Deadline, ct);

    public async Task<Tenant> RollbackAsync(string tenantId, long version, CancellationToken ct) =>
        await _client.RollbackAsync(new RollbackRequest { TenantId = tenantId, Version = version }, _admin, Deadline, ct);

    /// <summary>θ of the tenant's adapter, from the exported safetensors file.</summary>
    public async Task<float[]> ThetaAsync(string tenantId, CancellationToken ct)
    {
        var file = await _client.ExportAdapterAsync(new TenantRef { TenantId = tenantId }, _admin, Deadline, ct);
        using var scope = TorchSharp.torch.NewDisposeScope();
        using var stream = new MemoryStream(file.Safetensors.ToByteArray(), writable: false);
        return SafetensorsCodec.Read(stream).Tensors["theta"].data<float>().ToArray();
    }

    public void Dispose() => _channel.Dispose();
}
