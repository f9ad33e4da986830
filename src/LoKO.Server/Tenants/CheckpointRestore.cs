using System.Globalization;
using LoKO.Engine.Checkpoints;
using LoKO.Engine.Lora;
using LoKO.Engine.Models;
using LoKO.Engine.Optimizers;
using LoKO.Server.Storage;
using LoKO.Server.Telemetry;
using Microsoft.EntityFrameworkCore;

namespace LoKO.Server.Tenants;

/// <summary>
/// A tenant's state restored for checkpoint <see cref="Target"/> (null: the initial state, or a row that is gone): the
/// adapter and optimizer as loaded from <see cref="From"/> (null: built from the tenant's seed). When the two differ,
/// the log between them brings the state to the target's; <see cref="Exact"/> is false when that log was compacted away.
/// </summary>
public sealed record RestoredState(TenantAdapter Adapter, IOnlineOptimizer Optimizer, CheckpointRecord? Target, CheckpointRecord? From, bool Exact)
    : IDisposable
{
    /// <summary>The last sequence the loaded state holds: the log after it is left to learn.</summary>
    public long FromSequence => From?.LastAppliedSequence ?? 0;

    /// <summary>Compute thread: a restored state that is not installed after all.</summary>
    public void Dispose()
    {
        Optimizer.Dispose();
        Adapter.Dispose();
    }
}

/// <summary>
/// Restores a tenant's state as of one of its checkpoints without trusting the files: each is read whole, checked
/// against the length and SHA-256 its row records (rows from before checksums: unchecked), then parsed. One that is
/// missing, truncated, fails its checksum or does not load is skipped — a warning names it and why, and
/// <c>loko_checkpoint_fallbacks_total{reason}</c> counts it — for the next older checkpoint the state descends from
/// (never one a rollback or freeze abandoned), and last for the initial state from the tenant's seed. The caller learns
/// the log after the one loaded: replay is deterministic, so the tenant ends up where the skipped checkpoint was.
/// Nothing is written, so a restore works on a read-only store too. A checkpoint's head has the classes its row
/// records (labels added later are grown by the actor, at their place in the log).
/// </summary>
public sealed class CheckpointRestore(Func<TenantSettings> settings, TenantServices s, TenantGauges gauges)
{
    TenantSettings Settings => settings();
    string TenantId => Settings.TenantId;

    /// <summary>The state as of checkpoint <paramref name="version"/> (0: the initial state), from the newest checkpoint of its lineage that loads.</summary>
    /// <param name="clock">Marks the restore's phases, when the caller times them.</param>
    public async Task<RestoredState> RestoreAsync(BaseModel model, long version, CancellationToken ct, PhaseClock? clock = null)
    {
        var lineage = version > 0 ? await LineageAsync(version, ct) : [];
        clock?.Mark("lineage");
        var target = lineage.FirstOrDefault(c => c.Version == version);
        if (version > 0 && target is null) Skip(version, CheckpointFault.Missing, "its row is gone");
        foreach (var checkpoint in lineage)
        {
            if (await TryLoadAsync(model, checkpoint, ct, clock) is not { } loaded) continue;
            if (checkpoint != target)
                s.Logger.LogWarning("Tenant {Tenant}: restored checkpoint v{From} instead of v{Target}; the log after sequence {Sequence} is learned again",
                    TenantId, checkpoint.Version, version, checkpoint.LastAppliedSequence);
            return new RestoredState(loaded.Adapter, loaded.Optimizer, target, checkpoint, Exact: true);
        }

        bool exact = true;
        if (lineage.Count > 0)
        {
            // The initial state reaches the target only through the whole log; compaction deletes its oldest entries.
            await using var db = await s.Db.CreateDbContextAsync(ct);
            long? first = await db.Examples.Where(x => x.TenantId == TenantId).MinAsync(x => (long?)x.Sequence, ct);
            exact = first == 1 || lineage.All(c => c.LastAppliedSequence == 0);
            if (exact)
                s.Logger.LogWarning("Tenant {Tenant}: no checkpoint of its state loads; it starts from its initial state and learns its whole log again", TenantId);
            else
                s.Logger.LogError("Tenant {Tenant}: no checkpoint of its state loads and its log before sequence {First} was compacted away: it starts " +
                                  "from its initial state with the log that is left; what it learned from the compacted examples is lost",
                    TenantId, first?.ToString(CultureInfo.InvariantCulture) ?? "(none left)");
        }
        var imported = await s.Checkpoints.ReadInitialAsync(TenantId, ct);
        return await s.Compute.Run(() =>
        {
            var adapter = NewAdapter(model, imported);
            return new RestoredState(adapter, TenantOptimizers.Create(Settings, adapter), target, null, exact);
        });
    }

    /// <summary>Checkpoint <paramref name="version"/> and the older ones its state descends from (none a rollback or freeze abandoned), newest first.</summary>
    async Task<List<CheckpointRecord>> LineageAsync(long version, CancellationToken ct)
    {
        await using var db = await s.Db.CreateDbContextAsync(ct);
        return await db.Checkpoints.AsNoTracking()
            .Where(c => c.TenantId == TenantId && (c.Version == version || (c.Version < version && !c.Discarded)))
            .OrderByDescending(c => c.Version)
            .ToListAsync(ct);
    }

    sealed record Loaded(TenantAdapter Adapter, IOnlineOptimizer Optimizer);

    async Task<Loaded?> TryLoadAsync(BaseModel model, CheckpointRecord checkpoint, CancellationToken ct, PhaseClock? clock)
    {
        byte[] bytes;
        try
        {
            bytes = await s.Checkpoints.ReadVerifiedAsync(checkpoint, ct);
            clock?.Mark("read+verify");
        }
        catch (CheckpointFileException e)
        {
            Skip(checkpoint.Version, e.Fault, e.Message);
            return null;
        }
        var (loaded, error) = await s.Compute.Run<(Loaded?, Exception?)>(() =>
        {
            clock?.Mark("compute wait");
            // A fresh adapter each time: a file that fails half way may already have written part of θ. The file holds all of θ.
            var current = Settings;
            var adapter = model.EmptyAdapter(current.LoraOptions, checkpoint.LabelCount ?? current.InitialLabelCount);
            clock?.Mark("adapter");
            try
            {
                using var stream = new MemoryStream(bytes, 0, bytes.Length, writable: false, publiclyVisible: true);
                var optimizer = TenantOptimizers.Load(current, adapter, stream);
                clock?.Mark("parse");
                return (new Loaded(adapter, optimizer), null);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                adapter.Dispose();
                return (null, e);
            }
        });
        if (error is not null) Skip(checkpoint.Version, CheckpointFault.Invalid, $"its file {checkpoint.Path} does not load: {error.Message}");
        return loaded;
    }

    /// <summary>The initial adapter (the labels the tenant was created with): from its seed, or the adapter it was created from (PEFT import).</summary>
    TenantAdapter NewAdapter(BaseModel model, byte[]? imported)
    {
        var current = Settings;
        var adapter = model.CreateAdapter(current.LoraOptions, current.InitialLabelCount, current.Seed);
        if (imported is null) return adapter;
        using var scope = TorchSharp.torch.NewDisposeScope();
        using var stream = new MemoryStream(imported, writable: false);
        var theta = SafetensorsCodec.Read(stream).Tensors["theta"];
        using (TorchSharp.torch.no_grad()) adapter.Theta.copy_(theta);
        return adapter;
    }

    void Skip(long version, CheckpointFault fault, string why)
    {
        s.Metrics.CheckpointFallback(gauges, fault.Label());
        s.Logger.LogWarning("Tenant {Tenant}: checkpoint v{Version} cannot be restored ({Reason}): {Why}; an older checkpoint, or the initial state, " +
                            "and the log after it take its place", TenantId, version, fault.Label(), why);
    }
}
