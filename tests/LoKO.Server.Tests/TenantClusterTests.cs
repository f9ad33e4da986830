using System.Text;
using LoKO.Contracts.Rest;
using LoKO.Contracts.Validation;
using LoKO.Server.Hosting;
using LoKO.Server.Storage;
using LoKO.Server.Tenants;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Serialization;
using Orleans.TestingHost;

namespace LoKO.Server.Tests;

/// <summary>
/// Tenant grains on a two-silo in-process cluster sharing one data directory, called through an Orleans client:
/// every argument, answer and error crosses the wire, and a tenant moved to the other silo resumes unchanged.
/// </summary>
public sealed class TenantClusterTests : IAsyncLifetime
{
    const string Tenant = "clustered";

    readonly string _data = Path.Combine(Path.GetTempPath(), "loko-test-" + Guid.NewGuid().ToString("N"));
    InProcessTestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        var options = new LoKOOptions { DataDirectory = _data, MaxTokens = 16, CheckpointEverySeconds = 3600 };
        var builder = new InProcessTestClusterBuilder(2);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddSingleton(Options.Create(options));
            silo.AddLoKOTenants(options);
        });
        builder.ConfigureClient(client => client.Services.AddSerializer(serializer => serializer.AddLoKOContracts()));
        _cluster = builder.Build();
        await _cluster.DeployAsync();

        var first = Services(_cluster.Silos[0]);
        await using (var db = await first.GetRequiredService<IDbContextFactory<LoKODbContext>>().CreateDbContextAsync())
            await db.Database.MigrateAsync();
        await first.GetRequiredService<TenantService>().CreateAsync(new CreateTenantRequest
        {
            TenantId = Tenant, Preset = "minilm-l6", Labels = ["computers", "food"], Lora = new LoraSettings { Rank = 2 },
        }, CancellationToken.None);
    }

    IServiceProvider Services(InProcessSiloHandle silo) => _cluster.GetSiloServiceProvider(silo.SiloAddress);

    static NewExample Example(string text, string label, int index) =>
        new(new StoredPayload(PayloadKind.Text, Encoding.UTF8.GetBytes(text), 0, 0), label, index, ExampleId: null);

    async Task<TenantResponse> WaitForAppliedAsync(ITenantGrain grain, long applied)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (true)
        {
            var tenant = await grain.DescribeAsync();
            if (tenant.ExamplesApplied >= applied) return tenant;
            if (DateTime.UtcNow > deadline) Assert.Fail($"{applied} examples not applied in time: {tenant}");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task ATenantGrainServesThroughAClientAndMovesToTheOtherSiloUnchanged()
    {
        var grain = _cluster.Client.GetGrain<ITenantGrain>(Tenant);
        var schema = await grain.GetSchemaAsync();
        Assert.Equal(["computers", "food"], schema.Labels);
        Assert.Equal(InputModality.Text, schema.Modality);

        var outcomes = await grain.AppendAsync(
            [Example("the printer driver crashed", "computers", 0), Example("a bowl of ramen with egg", "food", 1)], waitForRoom: false, CancellationToken.None);
        Assert.Equal([1L, 2L], outcomes.Select(o => o.Sequence));
        var tenant = await WaitForAppliedAsync(grain, 2);
        Assert.Equal("minilm-l6", tenant.Preset);
        Assert.Equal(2, tenant.Lora.Rank);

        var probe = new StoredPayload(PayloadKind.Text, Encoding.UTF8.GetBytes("my laptop will not boot"), 0, 0);
        var before = await grain.PredictAsync(probe);
        var adapterBefore = await grain.ExportAsync();
        Assert.Equal(2, adapterBefore.AdapterVersion);

        // Errors keep their type and details across the wire.
        var invalid = await Assert.ThrowsAsync<FieldValidationException>(() => grain.RollbackAsync(99));
        Assert.Equal("version", Assert.Single(invalid.Errors).Field);
        var missing = await Assert.ThrowsAsync<TenantNotFoundException>(() => _cluster.Client.GetGrain<ITenantGrain>("nobody").DescribeAsync());
        Assert.Equal("nobody", missing.TenantId);

        // Move the tenant: its silo checkpoints it as it deactivates, the other loads that checkpoint.
        var host = _cluster.Silos.Single(s => Services(s).GetRequiredService<ResidentTenants>().Count == 1);
        var other = _cluster.Silos.Single(s => s != host);
        await _cluster.MigrateAsync(grain, other.SiloAddress);
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        TenantResponse moved;
        while (true)
        {
            moved = await grain.DescribeAsync();
            if (Services(other).GetRequiredService<ResidentTenants>().Count == 1) break;
            if (DateTime.UtcNow > deadline) Assert.Fail("the tenant did not move to the other silo");
            await Task.Delay(100);
        }
        Assert.Equal(0, Services(host).GetRequiredService<ResidentTenants>().Count);
        Assert.Equal(2, moved.ExamplesApplied);
        Assert.Equal(1, moved.CheckpointVersion);
        var after = await grain.PredictAsync(probe);
        Assert.Equal(before.Label, after.Label);
        Assert.Equal(before.Probabilities, after.Probabilities);
        Assert.Equal(adapterBefore.Safetensors, (await grain.ExportAsync()).Safetensors);
    }

    public async Task DisposeAsync()
    {
        await _cluster.StopAllSilosAsync();
        await _cluster.DisposeAsync();
        try { Directory.Delete(_data, recursive: true); } catch (IOException) { }
    }
}
