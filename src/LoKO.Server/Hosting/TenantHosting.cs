using LoKO.Server.Compute;
using LoKO.Server.Storage;
using LoKO.Server.Telemetry;
using LoKO.Server.Tenants;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Serialization;

namespace LoKO.Server.Hosting;

/// <summary>What a silo needs to host tenant grains, whichever clustering it uses.</summary>
public static class TenantHosting
{
    /// <summary>
    /// The tenant grains' services (metadata store, checkpoint store (<see cref="LoKOOptions.CheckpointStore"/>),
    /// compute threads, base models, metrics, the resident-tenant LRU) and how their calls serialise.
    /// </summary>
    public static ISiloBuilder AddLoKOTenants(this ISiloBuilder silo, LoKOOptions options)
    {
        var data = options.FullDataDirectory;
        Directory.CreateDirectory(data);
        var services = silo.Services;
        services.AddMetadataStore(options.Database, data);
        if (options.CheckpointStoreInUse == CheckpointStoreKind.Database)
            services.AddSingleton<ICheckpointStore, DatabaseCheckpoints>();
        else
            services.AddSingleton<ICheckpointStore>(new CheckpointFiles(data));
        // The server resolves its device before building (LoKOServer); a silo built on its own (a test cluster) here.
        services.TryAddSingleton(_ => ServingDevice.Resolve(options));
        services.AddSingleton<ComputeExecutor>();
        services.AddSingleton<ModelRegistry>();
        services.AddMetrics();
        services.AddSingleton<LoKOMetrics>();
        services.AddSingleton<BatchMetrics>();
        services.AddSingleton<ResidentTenants>();
        services.AddSingleton(sp => new TenantServices(
            sp.GetRequiredService<IDbContextFactory<LoKODbContext>>(), sp.GetRequiredService<ComputeExecutor>(),
            sp.GetRequiredService<ModelRegistry>(), sp.GetRequiredService<ICheckpointStore>(), sp.GetRequiredService<IOptions<LoKOOptions>>().Value,
            sp.GetRequiredService<LoKOMetrics>(), sp.GetRequiredService<ILogger<TenantActor>>()));
        services.AddSingleton<TenantRateLimits>();
        services.AddSingleton<TenantService>();
        services.AddSerializer(serializer => serializer.AddLoKOContracts());
        // A gRPC append may wait QueueWaitSeconds for room in the tenant's queue; a first activation may load a base model.
        silo.Configure<SiloMessagingOptions>(m => m.ResponseTimeout = TimeSpan.FromSeconds(options.QueueWaitSeconds) + TimeSpan.FromMinutes(1));
        return silo;
    }
}
