using Microsoft.EntityFrameworkCore;

namespace LoKO.Server.Storage;

/// <summary>
/// One writer per tenant, enforced by the store: Orleans can briefly hold two activations of one tenant (membership
/// changes, a paused node declared dead). Each activation takes a new epoch before it reads anything, and every
/// durable write of the tenant first checks, inside its own transaction, that the epoch is still the current one.
/// The check updates the tenant's row, so it holds that row's lock until the write commits: a newer activation's
/// <see cref="TakeAsync"/> waits for the write and then reads it, and a write after that fails its check.
/// </summary>
public static class TenantEpochs
{
    /// <summary>A new epoch for the activation about to load the tenant; null when the tenant does not exist.</summary>
    public static async Task<long?> TakeAsync(LoKODbContext db, string tenantId, CancellationToken ct)
    {
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        if (await db.Tenants.Where(t => t.TenantId == tenantId).ExecuteUpdateAsync(s => s.SetProperty(t => t.Epoch, t => t.Epoch + 1), ct) == 0)
            return null;
        var epoch = await db.Tenants.Where(t => t.TenantId == tenantId).Select(t => t.Epoch).SingleAsync(ct);
        await tx.CommitAsync(ct);
        return epoch;
    }

    /// <summary>In the write's transaction, before its other statements: throws <see cref="TenantFencedException"/> when a newer activation took over.</summary>
    public static async Task CheckAsync(LoKODbContext db, string tenantId, long epoch)
    {
        var current = await db.Tenants.Where(t => t.TenantId == tenantId && t.Epoch == epoch)
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.Epoch, epoch));
        if (current == 0) throw new TenantFencedException(tenantId, epoch);
    }
}

/// <summary>A write of an activation whose epoch is no longer the tenant's: another activation serves it now. Nothing was written.</summary>
public sealed class TenantFencedException(string tenantId, long epoch)
    : Exception($"tenant '{tenantId}': activation epoch {epoch} is no longer current; another activation serves the tenant now")
{
    public string TenantId { get; } = tenantId;
}
