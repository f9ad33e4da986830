using System.Collections.Concurrent;
using LoKO.Server.Compute;
using LoKO.Server.Hosting;
using LoKO.Server.Storage;
using LoKO.Server.Telemetry;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LoKO.Server.Tenants;

/// <summary>
/// Where tenant actors live. This in-process implementation keeps every activated tenant resident; it is the
/// seam where Orleans grains (one grain per tenant, the same actor contract) replace it for several nodes.
/// </summary>
public interface ITenantRuntime
{
    /// <summary>The tenant's actor, activated (checkpoint loaded, log replay queued) on first use.</summary>
    Task<TenantActor> GetAsync(string tenantId, CancellationToken ct);

    /// <summary>Starts activation in the background (e.g. right after creation), so the first request finds it warm.</summary>
    void Prewarm(string tenantId);

    /// <summary>Stops the tenant's actor if it is active, without a checkpoint (deletion).</summary>
    Task DeactivateAsync(string tenantId);
}

public sealed class TenantRuntime : ITenantRuntime, IHostedService
{
    readonly ConcurrentDictionary<string, Lazy<Task<TenantActor>>> _actors = new();
    readonly TenantServices _services;

    public TenantRuntime(IDbContextFactory<LoKODbContext> db, ComputeExecutor compute, ModelRegistry models, CheckpointFiles files,
                         IOptions<LoKOOptions> options, LoKOMetrics metrics, ILogger<TenantRuntime> logger) =>
        _services = new TenantServices(db, compute, models, files, options.Value, metrics, logger);

    public int Resident => _actors.Count;

    public async Task<TenantActor> GetAsync(string tenantId, CancellationToken ct)
    {
        var lazy = _actors.GetOrAdd(tenantId, id => new Lazy<Task<TenantActor>>(() => TenantActor.ActivateAsync(id, _services, CancellationToken.None)));
        try
        {
            return await lazy.Value.WaitAsync(ct);
        }
        catch (Exception) when (lazy.Value.IsFaulted)
        {
            // A failed activation (unknown tenant, unreadable checkpoint) is not cached.
            _actors.TryRemove(KeyValuePair.Create(tenantId, lazy));
            throw;
        }
    }

    public void Prewarm(string tenantId) => _ = Task.Run(async () =>
    {
        try { await GetAsync(tenantId, CancellationToken.None); }
        catch (Exception e) { _services.Logger.LogWarning(e, "Tenant {Tenant}: activation failed", tenantId); }
    });

    public async Task DeactivateAsync(string tenantId)
    {
        if (!_actors.TryRemove(tenantId, out var lazy)) return;
        TenantActor actor;
        try { actor = await lazy.Value; }
        catch (Exception) { return; }
        await actor.StopAsync(checkpoint: false);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Graceful shutdown: every resident tenant checkpoints what it learned since its last checkpoint.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        var stopping = new List<Task>();
        foreach (var (id, lazy) in _actors)
        {
            if (!lazy.IsValueCreated) continue;
            stopping.Add(Task.Run(async () =>
            {
                try
                {
                    var actor = await lazy.Value;
                    await actor.StopAsync(checkpoint: _services.Options.CheckpointOnShutdown);
                }
                catch (Exception e) { _services.Logger.LogError(e, "Tenant {Tenant}: stop failed", id); }
            }, CancellationToken.None));
        }
        await Task.WhenAll(stopping);
        _actors.Clear();
    }
}
