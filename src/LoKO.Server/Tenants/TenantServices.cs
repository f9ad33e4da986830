using LoKO.Server.Compute;
using LoKO.Server.Hosting;
using LoKO.Server.Storage;
using LoKO.Server.Telemetry;
using Microsoft.EntityFrameworkCore;

namespace LoKO.Server.Tenants;

/// <summary>Services every tenant actor uses.</summary>
public sealed record TenantServices(
    IDbContextFactory<LoKODbContext> Db,
    ComputeExecutor Compute,
    ModelRegistry Models,
    ICheckpointStore Checkpoints,
    LoKOOptions Options,
    LoKOMetrics Metrics,
    ILogger Logger);
