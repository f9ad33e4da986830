using LoKO.Server.Hosting;
using LoKO.Server.Tenants;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace LoKO.Server.Tests;

/// <summary>The resident-tenant LRU on its own: admission, eviction order, budget in bytes and in tenants.</summary>
public class ResidentTenantsTests
{
    const long MiB = 1024 * 1024;

    readonly List<string> _evicted = [];

    readonly List<string> _writtenBack = [];

    ResidentTenants Create(double budgetMB, int maxTenants = 0, double writeBackShare = 0.1) =>
        new(Options.Create(new LoKOOptions { ResidentTenantBudgetMB = budgetMB, MaxResidentTenants = maxTenants, ResidentWriteBackShare = writeBackShare }),
            NullLogger<ResidentTenants>.Instance);

    void Admit(ResidentTenants resident, string tenant, long bytes, object? owner = null) =>
        resident.Admit(tenant, owner ?? tenant, bytes, () => _evicted.Add(tenant), writeBack: () => _writtenBack.Add(tenant));

    [Fact]
    public void PastTheMemoryBudgetTheLeastRecentlyUsedTenantsAreEvicted()
    {
        // Room for the next activation is kept: 3.5 MiB holds two 1 MiB tenants and the one being loaded.
        var resident = Create(budgetMB: 3.5);
        Admit(resident, "a", MiB);
        Admit(resident, "b", MiB);
        Assert.Empty(_evicted);
        resident.Touch("a");

        Admit(resident, "c", MiB);
        Assert.Equal(["b"], _evicted);
        Assert.Equal(2, resident.Count);
        resident.Remove("b", "b"); // its deactivation ended
        Assert.Equal(2 * MiB, resident.Bytes);

        // A large newcomer evicts as many as it takes, oldest first, but never itself.
        Admit(resident, "big", 2 * MiB);
        Assert.Equal(["b", "a", "c"], _evicted);
        Assert.Equal(1, resident.Count);
        resident.Remove("a", "a");
        resident.Remove("c", "c");
        Admit(resident, "huge", 10 * MiB);
        Assert.Equal(["b", "a", "c", "big"], _evicted);
        resident.Remove("big", "big");
        Assert.Equal(10 * MiB, resident.Bytes);
    }

    [Fact]
    public void AnEvictedTenantsMemoryCountsUntilItsDeactivationHasEnded()
    {
        var resident = Create(budgetMB: 3.5);
        Admit(resident, "a", MiB);
        Admit(resident, "b", MiB);
        Admit(resident, "c", MiB);
        Assert.Equal(["a"], _evicted);
        Assert.Equal(2, resident.Count);
        Assert.Equal(2 * MiB, resident.Bytes);
        Assert.Equal(MiB, resident.DepartingBytes); // a is still checkpointing and disposing: its state is still held

        // Admitting another while a is still held evicts down to the budget, a and room for the next one included.
        Admit(resident, "d", MiB);
        Assert.Equal(["a", "b", "c"], _evicted);
        Assert.Equal(MiB, resident.Bytes);
        Assert.Equal(3 * MiB, resident.DepartingBytes);
        resident.Remove("a", "a");
        resident.Remove("b", "b");
        resident.Remove("c", "c");
        Assert.Equal(MiB, resident.Bytes);
        Assert.Equal(0, resident.DepartingBytes);
        Assert.Equal(1, resident.Count);
        resident.Remove("c", "c"); // twice: nothing more
        Assert.Equal(MiB, resident.Bytes);
        Assert.Equal(0, resident.DepartingBytes);
    }

    [Fact]
    public void OnceTheSetIsFullTheTenantsNextInLineAreAskedToWriteBack()
    {
        var resident = Create(budgetMB: 4.5);
        Admit(resident, "a", MiB);
        Admit(resident, "b", MiB);
        Admit(resident, "c", MiB);
        Assert.Empty(_writtenBack); // room to spare: no eviction is coming

        Admit(resident, "d", MiB);
        Assert.Equal(["a"], _evicted);
        Assert.Equal(["b"], _writtenBack); // 10 % of 3 MiB: the least recently used one, at least one
        resident.Touch("b");
        resident.Remove("a", "a");
        Admit(resident, "e", MiB);
        Assert.Equal(["a", "c"], _evicted);
        Assert.Equal(["b", "d"], _writtenBack);

        var wide = Create(budgetMB: 4.5, writeBackShare: 0.5);
        _writtenBack.Clear();
        foreach (var t in new[] { "a", "b", "c", "d" }) Admit(wide, t, MiB);
        Assert.Equal(["b", "c"], _writtenBack); // half of the 3 MiB: the two least recently used, never the newcomer

        var off = Create(budgetMB: 4.5, writeBackShare: 0);
        _writtenBack.Clear();
        foreach (var t in new[] { "a", "b", "c", "d" }) Admit(off, t, MiB);
        Assert.Empty(_writtenBack);
    }

    [Fact]
    public void MaxResidentTenantsBoundsTheCountWhateverTheirSize()
    {
        var resident = Create(budgetMB: 4096, maxTenants: 2);
        Admit(resident, "a", 1);
        Admit(resident, "b", 1);
        Admit(resident, "c", 1);
        Assert.Equal(["a"], _evicted);
        Assert.Equal(2, resident.Count);
    }

    [Fact]
    public void ATenantStillLearningIsPassedOverWhileAnIdleOneCanGo()
    {
        var resident = Create(budgetMB: 4096, maxTenants: 2);
        resident.Admit("a", "a", 1, () => _evicted.Add("a"), busy: () => true);
        Admit(resident, "b", 1);
        resident.Admit("c", "c", 1, () => _evicted.Add("c"), busy: () => true);
        Assert.Equal(["b"], _evicted); // a is older, but still has examples to learn

        // When every candidate is busy the budget still holds: the least recently used goes.
        Admit(resident, "d", 1);
        Assert.Equal(["b", "a"], _evicted);
        Admit(resident, "e", 1);
        Assert.Equal(["b", "a", "d"], _evicted); // c is still busy, d is idle
    }

    [Fact]
    public void OnlyTheCurrentActivationRemovesItsEntry()
    {
        var resident = Create(budgetMB: 4096);
        object first = new(), second = new();
        Admit(resident, "a", MiB, first);
        Admit(resident, "a", MiB, second); // reactivated before the old activation finished deactivating
        Assert.Equal(1, resident.Count);
        Assert.Equal(MiB, resident.Bytes);
        Assert.Equal(MiB, resident.DepartingBytes); // the old one's state is held until then

        resident.Remove("a", first);
        Assert.Equal(1, resident.Count);
        Assert.Equal(MiB, resident.Bytes);
        Assert.Equal(0, resident.DepartingBytes);
        resident.Remove("a", second);
        Assert.Equal(0, resident.Count);
        Assert.Equal(0, resident.Bytes);
    }

    [Fact]
    public void TheFootprintCountsEachOptimizersFloatVectorsAndLoKOsNoiseMatrices()
    {
        Assert.Equal(16L * 1000 + 16 * 3 * 3, TenantFootprint.Bytes("loko", parameters: 1000, outputs: 3));
        // The logit observation's mask over θ; a shared head's Σ and its guard copy (float64, (d+1)²) and its column prior.
        Assert.Equal(20L * 1000 + 16 * 3 * 3 + 16L * 385 * 385 + 4 * 385,
            TenantFootprint.Bytes("loko", parameters: 1000, outputs: 3, headCovarianceSide: 385, logitObservation: true));
        Assert.Equal(16L * 1000, TenantFootprint.Bytes("adamw", parameters: 1000, outputs: 3));   // θ, gradient, two moments
        Assert.Equal(12L * 1000, TenantFootprint.Bytes("adagrad", parameters: 1000, outputs: 3)); // θ, gradient, sum of squares
        Assert.Equal(8L * 1000, TenantFootprint.Bytes("sgd", parameters: 1000, outputs: 3));      // θ, gradient
    }
}
