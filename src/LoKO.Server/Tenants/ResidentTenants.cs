using LoKO.Server.Hosting;
using Microsoft.Extensions.Options;

namespace LoKO.Server.Tenants;

/// <summary>
/// The tenants resident on this silo, least recently used last, with their estimated memory
/// (<see cref="TenantFootprint"/>). Admitting a tenant past <see cref="LoKOOptions.ResidentTenantBudgetMB"/> or
/// <see cref="LoKOOptions.MaxResidentTenants"/> evicts the least recently used others: each checkpoints as it
/// deactivates and reloads from that checkpoint (and the log after it) on its next use.
/// </summary>
public sealed class ResidentTenants(IOptions<LoKOOptions> options, ILogger<ResidentTenants> logger)
{
    sealed record Entry(string TenantId, object Owner, long Bytes, Action Evict, Func<bool> Busy);

    readonly Lock _gate = new();
    readonly LinkedList<Entry> _byRecency = new();
    readonly Dictionary<string, LinkedListNode<Entry>> _byId = new(StringComparer.Ordinal);
    long _bytes;

    long BudgetBytes => (long)(options.Value.ResidentTenantBudgetMB * 1024 * 1024);
    int MaxTenants => options.Value.MaxResidentTenants;

    public int Count
    {
        get { lock (_gate) return _byId.Count; }
    }

    public long Bytes
    {
        get { lock (_gate) return _bytes; }
    }

    /// <summary>
    /// Records a newly activated tenant as the most recently used (<paramref name="owner"/> identifies its
    /// activation) and evicts others until the budget holds; <paramref name="evict"/> is how this one is evicted later.
    /// Tenants still learning accepted examples (<paramref name="busy"/>) are passed over while an idle one can go,
    /// so a backlog is learned now rather than on the tenant's next use.
    /// </summary>
    public void Admit(string tenantId, object owner, long bytes, Action evict, Func<bool>? busy = null)
    {
        var victims = new List<Entry>();
        lock (_gate)
        {
            if (_byId.Remove(tenantId, out var stale)) Forget(stale);
            var node = _byRecency.AddFirst(new Entry(tenantId, owner, bytes, evict, busy ?? (() => false)));
            _byId[tenantId] = node;
            _bytes += bytes;
            while ((_bytes > BudgetBytes || (MaxTenants > 0 && _byId.Count > MaxTenants)) && _byRecency.Last != node)
            {
                var victim = LeastRecentlyUsedIdle(node) ?? _byRecency.Last!;
                _byId.Remove(victim.Value.TenantId);
                Forget(victim);
                victims.Add(victim.Value);
            }
            if (_bytes > BudgetBytes)
                logger.LogWarning("Tenant {Tenant} alone needs {Bytes} bytes, more than the resident-tenant budget", tenantId, bytes);
        }
        // Outside the lock: an eviction only starts the victim's deactivation (its checkpoint runs there).
        foreach (var victim in victims)
        {
            logger.LogInformation("Evicting tenant {Tenant} ({Bytes} bytes), least recently used, to admit {Admitted}", victim.TenantId, victim.Bytes, tenantId);
            victim.Evict();
        }
    }

    LinkedListNode<Entry>? LeastRecentlyUsedIdle(LinkedListNode<Entry> admitted)
    {
        for (var n = _byRecency.Last; n is not null && n != admitted; n = n.Previous)
            if (!n.Value.Busy()) return n;
        return null;
    }

    /// <summary>The tenant was just used: it becomes the last to be evicted.</summary>
    public void Touch(string tenantId)
    {
        lock (_gate)
        {
            if (!_byId.TryGetValue(tenantId, out var node) || node == _byRecency.First) return;
            _byRecency.Remove(node);
            _byRecency.AddFirst(node);
        }
    }

    /// <summary>The activation <paramref name="owner"/> of the tenant is going away (a newer activation's entry is kept).</summary>
    public void Remove(string tenantId, object owner)
    {
        lock (_gate)
        {
            if (!_byId.TryGetValue(tenantId, out var node) || !ReferenceEquals(node.Value.Owner, owner)) return;
            _byId.Remove(tenantId);
            Forget(node);
        }
    }

    void Forget(LinkedListNode<Entry> node)
    {
        _byRecency.Remove(node);
        _bytes -= node.Value.Bytes;
    }
}
