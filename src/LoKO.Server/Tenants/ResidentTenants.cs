using LoKO.Engine.Onnx;
using LoKO.Server.Hosting;
using Microsoft.Extensions.Options;

namespace LoKO.Server.Tenants;

/// <summary>
/// The tenants resident on this silo, least recently used last, with their estimated memory
/// (<see cref="TenantFootprint"/>). Admitting a tenant past <see cref="LoKOOptions.ResidentTenantBudgetMB"/> or
/// <see cref="LoKOOptions.MaxResidentTenants"/> evicts the least recently used others: each checkpoints as it
/// deactivates and reloads from that checkpoint (and the log after it) on its next use. An evicted tenant's memory
/// counts until its deactivation has ended (<see cref="Remove"/>): it is held until then; and room for the next
/// activation is kept, since a tenant's state is loaded before it is admitted. The tenants next in line
/// for eviction are asked to write their checkpoint back ahead of it (<see cref="LoKOOptions.ResidentWriteBackShare"/>),
/// so an eviction seldom has a checkpoint to write beside the activation that caused it.
/// </summary>
public sealed class ResidentTenants(IOptions<LoKOOptions> options, ILogger<ResidentTenants> logger)
{
    sealed record Entry(string TenantId, object Owner, long Bytes, Action Evict, Func<bool> Busy, Action WriteBack);

    readonly Lock _gate = new();
    readonly LinkedList<Entry> _byRecency = new();
    readonly Dictionary<string, LinkedListNode<Entry>> _byId = new(StringComparer.Ordinal);
    // Evicted activations still deactivating, by owner, with their bytes (still in _bytes).
    readonly Dictionary<object, long> _departing = new(ReferenceEqualityComparer.Instance);
    long _bytes, _departingBytes;

    long BudgetBytes => (long)(options.Value.ResidentTenantBudgetMB * 1024 * 1024);
    int MaxTenants => options.Value.MaxResidentTenants;

    public int Count
    {
        get { lock (_gate) return _byId.Count; }
    }

    /// <summary>The resident tenants' estimated memory.</summary>
    public long Bytes
    {
        get { lock (_gate) return _bytes - _departingBytes; }
    }

    /// <summary>The estimated memory of evicted tenants still deactivating (held until their state is disposed); admissions count it.</summary>
    public long DepartingBytes
    {
        get { lock (_gate) return _departingBytes; }
    }

    /// <summary>
    /// Records a newly activated tenant as the most recently used (<paramref name="owner"/> identifies its
    /// activation) and evicts others until the budget holds; <paramref name="evict"/> is how this one is evicted later.
    /// Tenants still learning accepted examples or writing a checkpoint (<paramref name="busy"/>) are passed over while
    /// an idle one can go, so a backlog is learned now rather than on the tenant's next use, and an eviction does not
    /// wait for a write. <paramref name="writeBack"/> asks this one to checkpoint what it has learned since its last
    /// checkpoint, once it is next in line.
    /// </summary>
    public void Admit(string tenantId, object owner, long bytes, Action evict, Func<bool>? busy = null, Action? writeBack = null)
    {
        var victims = new List<Entry>();
        List<Entry> nextInLine = [];
        lock (_gate)
        {
            // Reactivated before the old activation finished deactivating: that one's memory counts until it has.
            if (_byId.Remove(tenantId, out var stale)) Depart(stale);
            var node = _byRecency.AddFirst(new Entry(tenantId, owner, bytes, evict, busy ?? (() => false), writeBack ?? (() => { })));
            _byId[tenantId] = node;
            _bytes += bytes;
            // A tenant is admitted once its state is loaded: room for the next one (of this one's size) is kept, so
            // what is held when it arrives stays within the budget. This admission's own victims count as gone:
            // evicting more would not free their memory any sooner. Those evicted earlier and still deactivating do
            // count: that memory is held now.
            long freed = 0;
            while ((_bytes - freed + bytes > BudgetBytes || (MaxTenants > 0 && _byId.Count > MaxTenants)) && _byRecency.Last != node)
            {
                var victim = LeastRecentlyUsedIdle(node) ?? _byRecency.Last!;
                _byId.Remove(victim.Value.TenantId);
                Depart(victim);
                freed += victim.Value.Bytes;
                victims.Add(victim.Value);
            }
            if (bytes > BudgetBytes)
                logger.LogWarning("Tenant {Tenant} alone needs {Bytes} bytes, more than the resident-tenant budget", tenantId, bytes);
            // Only a full set evicts: the tenants it would evict next write back now.
            if (victims.Count > 0) nextInLine = NextInLine(node);
        }
        // Outside the lock: an eviction only starts the victim's deactivation, a write-back only wakes the tenant's loop.
        foreach (var victim in victims)
        {
            logger.LogInformation("Evicting tenant {Tenant} ({Bytes} bytes), least recently used, to admit {Admitted}", victim.TenantId, victim.Bytes, tenantId);
            victim.Evict();
        }
        foreach (var entry in nextInLine) entry.WriteBack();
    }

    LinkedListNode<Entry>? LeastRecentlyUsedIdle(LinkedListNode<Entry> admitted)
    {
        for (var n = _byRecency.Last; n is not null && n != admitted; n = n.Previous)
            if (!n.Value.Busy()) return n;
        return null;
    }

    /// <summary>The least recently used tenants holding <see cref="LoKOOptions.ResidentWriteBackShare"/> of the resident bytes (at least one), never <paramref name="admitted"/>.</summary>
    List<Entry> NextInLine(LinkedListNode<Entry> admitted)
    {
        var share = options.Value.ResidentWriteBackShare;
        var line = new List<Entry>();
        if (share <= 0) return line;
        long wanted = (long)(share * (_bytes - _departingBytes)), taken = 0;
        for (var n = _byRecency.Last; n is not null && n != admitted && (line.Count == 0 || taken < wanted); n = n.Previous)
        {
            line.Add(n.Value);
            taken += n.Value.Bytes;
        }
        return line;
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

    /// <summary>
    /// The activation <paramref name="owner"/> of the tenant has gone away (its state is disposed): its memory no longer
    /// counts, resident or evicted (a newer activation's entry is kept).
    /// </summary>
    public void Remove(string tenantId, object owner)
    {
        lock (_gate)
        {
            if (_departing.Remove(owner, out var departed))
            {
                _bytes -= departed;
                _departingBytes -= departed;
            }
            if (_byId.TryGetValue(tenantId, out var node) && ReferenceEquals(node.Value.Owner, owner))
            {
                _byId.Remove(tenantId);
                Forget(node);
            }
        }
        // The heap reuses freed blocks (NativeHeap.ReuseLargeBlocks): the pages of the state just freed go back here.
        NativeHeap.Trim();
    }

    void Depart(LinkedListNode<Entry> node)
    {
        _byRecency.Remove(node);
        _departing[node.Value.Owner] = node.Value.Bytes;
        _departingBytes += node.Value.Bytes;
    }

    void Forget(LinkedListNode<Entry> node)
    {
        _byRecency.Remove(node);
        _bytes -= node.Value.Bytes;
    }
}
