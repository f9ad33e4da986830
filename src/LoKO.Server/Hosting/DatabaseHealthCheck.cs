using LoKO.Server.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LoKO.Server.Hosting;

/// <summary>Ready when the metadata store answers.</summary>
public sealed class DatabaseHealthCheck(IDbContextFactory<LoKODbContext> db) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        try
        {
            await using var c = await db.CreateDbContextAsync(ct);
            return await c.Database.CanConnectAsync(ct) ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("the metadata store does not answer");
        }
        catch (Exception e)
        {
            return HealthCheckResult.Unhealthy("the metadata store does not answer", e);
        }
    }
}
