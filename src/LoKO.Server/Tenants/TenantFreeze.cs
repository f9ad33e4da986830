using System.Globalization;
using LoKO.Contracts.Rest;
using LoKO.Server.Hosting;
using LoKO.Server.Storage;
using Microsoft.EntityFrameworkCore;

namespace LoKO.Server.Tenants;

/// <summary>Why a tenant is frozen: what the monitor saw and the first logged sequence the drop may have touched.</summary>
public sealed record FreezeTrigger(string Reason, long DropSequence);

/// <summary>
/// Watches one tenant's learning steps for the two guard rails of <see cref="GuardRailOptions"/>: a window of
/// prequential accuracy far below the tenant's best window, or the LoKO filter's own guard firing repeatedly. Its
/// figures describe the steps since the tenant was loaded, resumed or rolled back (<see cref="Reset"/>); it lives on
/// the tenant's loop (steps and checkpoints run one at a time), so it needs no lock.
/// </summary>
public sealed class FreezeMonitor(GuardRailOptions options)
{
    readonly Queue<(long Step, long Sequence)> _guardEvents = new();
    long _steps;
    int _inWindow, _correctInWindow, _windows;
    double _best = double.NaN;
    long _windowFirst, _lastClosedEnd;

    /// <summary>Set once a rule fired; learning must stop until the tenant is frozen (then <see cref="Reset"/>).</summary>
    public FreezeTrigger? Tripped { get; private set; }

    bool AccuracyRule => options.MaxAccuracyDrop < 1;
    int Window => Math.Max(1, options.Window);

    /// <summary>Starts afresh from the state at <paramref name="sequence"/> (a load, a resume, a rollback).</summary>
    public void Reset(long sequence)
    {
        _guardEvents.Clear();
        _steps = 0;
        _inWindow = _correctInWindow = _windows = 0;
        _best = double.NaN;
        _windowFirst = _lastClosedEnd = sequence;
        Tripped = null;
    }

    /// <summary>One learning step's prequential outcome and the filter's guard event, if any.</summary>
    public void Observe(long sequence, bool correct, string? guardEvent)
    {
        if (!options.Enabled || Tripped is not null) return;
        _steps++;
        if (_inWindow == 0) _windowFirst = sequence;
        _inWindow++;
        if (correct) _correctInWindow++;

        int maxEvents = options.MaxGuardEvents;
        if (maxEvents > 0)
        {
            if (guardEvent is not null) _guardEvents.Enqueue((_steps, sequence));
            while (_guardEvents.Count > 0 && _guardEvents.Peek().Step <= _steps - options.GuardEventSteps) _guardEvents.Dequeue();
            if (_guardEvents.Count >= maxEvents)
            {
                var first = _guardEvents.Peek().Sequence;
                Tripped = new FreezeTrigger(
                    $"the LoKO filter's divergence guard fired {N(_guardEvents.Count)} times within {N(options.GuardEventSteps)} steps " +
                    $"(sequences {N(first)}–{N(sequence)}; LoKO:Guard:MaxGuardEvents = {N(maxEvents)}), the last: {guardEvent}", first);
                return;
            }
        }

        if (_inWindow < Window) return;
        double accuracy = (double)_correctInWindow / _inWindow;
        _windows++;
        if (AccuracyRule && _windows >= options.MinWindows && accuracy < _best - options.MaxAccuracyDrop)
        {
            Tripped = new FreezeTrigger(
                $"online accuracy {F(accuracy)} ({N(_correctInWindow)}/{N(_inWindow)}) over sequences {N(_windowFirst)}–{N(sequence)} fell more than " +
                $"LoKO:Guard:MaxAccuracyDrop = {F(options.MaxAccuracyDrop)} below the best window's {F(_best)} (window {N(_windows)} of {N(Window)} examples)",
                _windowFirst);
            return;
        }
        if (!(accuracy <= _best)) _best = accuracy;
        _inWindow = _correctInWindow = 0;
        _lastClosedEnd = sequence;
    }

    /// <summary>
    /// The last sequence that no freeze can reach back past any more: the end of the last window judged healthy once
    /// the current window can trip the accuracy rule, and before the oldest guard event still counted. Compaction
    /// keeps the newest checkpoint at or before it. Null: a freeze now would return to a checkpoint no older than
    /// the newest, which compaction keeps anyway.
    /// </summary>
    public long? ProtectThrough
    {
        get
        {
            if (!options.Enabled) return null;
            long? through = null;
            if (Tripped is { } t) through = t.DropSequence - 1;
            if (AccuracyRule && _windows + 1 >= options.MinWindows) through = Math.Min(through ?? long.MaxValue, _lastClosedEnd);
            if (options.MaxGuardEvents > 0 && _guardEvents.Count > 0) through = Math.Min(through ?? long.MaxValue, _guardEvents.Peek().Sequence - 1);
            return through;
        }
    }

    static string N(long n) => n.ToString(CultureInfo.InvariantCulture);
    static string F(double x) => x.ToString("0.###", CultureInfo.InvariantCulture);
}

/// <summary>The state a freeze returns to: a checkpoint, or (null) the tenant's initial state; <see cref="Note"/> when not the one before the drop.</summary>
public sealed record FreezeTarget(CheckpointRecord? Checkpoint, string? Note)
{
    public long Version => Checkpoint?.Version ?? 0;
    public long LastAppliedSequence => Checkpoint?.LastAppliedSequence ?? 0;
}

/// <summary>
/// The service-level guard rails of one tenant. When its <see cref="Monitor"/> trips, the tenant's actor freezes
/// it: it returns to the newest checkpoint taken before the drop (a checkpoint is good for this when every step it
/// holds precedes the drop's first sequence, and it was not abandoned by a freeze or rollback since), stops
/// learning, and records why. While frozen every example is still appended to the durable log — nothing is lost,
/// nothing is marked rolled back — and predictions are served from the restored state. A resume learns the log
/// after that checkpoint again, in order: each logged example ends up learned exactly once, as after a restart's
/// replay. Frozen state and events live in the metadata store, so a restart keeps a tenant frozen.
/// </summary>
public sealed class TenantFreeze(string tenantId, TenantServices s)
{
    /// <summary>Events a description shows (the newest; the store keeps all).</summary>
    public const int ShownEvents = 20;

    readonly Lock _gate = new();
    readonly List<TenantEvent> _events = [];
    volatile bool _frozen;

    public FreezeMonitor Monitor { get; } = new(s.Options.Guard);
    public bool Frozen => _frozen;

    public IReadOnlyList<TenantEvent> Events
    {
        get { lock (_gate) return [.. _events]; }
    }

    /// <summary>At activation: the stored frozen flag and the latest events.</summary>
    public async Task LoadAsync(TenantRecord record, CancellationToken ct)
    {
        await using var db = await s.Db.CreateDbContextAsync(ct);
        var rows = await db.TenantEvents.AsNoTracking().Where(e => e.TenantId == tenantId)
            .OrderByDescending(e => e.Id).Take(ShownEvents).ToListAsync(ct);
        lock (_gate)
        {
            _events.Clear();
            _events.AddRange(rows.AsEnumerable().Reverse().Select(Event));
        }
        _frozen = record.Frozen;
        s.Metrics.SetFrozen(tenantId, _frozen);
    }

    /// <summary>
    /// The newest checkpoint before the drop; else the initial state while the log is whole (nothing compacted yet);
    /// else the oldest checkpoint kept, the best that is left.
    /// </summary>
    public async Task<FreezeTarget> TargetAsync(FreezeTrigger trigger)
    {
        await using var db = await s.Db.CreateDbContextAsync();
        var kept = db.Checkpoints.AsNoTracking().Where(c => c.TenantId == tenantId);
        var before = await kept.Where(c => !c.Discarded && c.LastAppliedSequence < trigger.DropSequence)
            .OrderByDescending(c => c.Version).FirstOrDefaultAsync();
        if (before is not null) return new FreezeTarget(before, null);
        if (await db.Examples.AnyAsync(x => x.TenantId == tenantId && x.Sequence == 1)) return new FreezeTarget(null, null);
        var oldest = await kept.OrderBy(c => c.Discarded).ThenBy(c => c.Version).FirstOrDefaultAsync();
        return new FreezeTarget(oldest, "no checkpoint before the drop is kept any more, so the oldest kept one");
    }

    /// <summary>
    /// Durably freezes the tenant at <paramref name="target"/> (one transaction): the frozen flag and the checkpoint it
    /// descends from, later checkpoints marked discarded, later log entries marked not applied (not rolled back: they
    /// are learned again on resume), and the event. The freeze shows (<see cref="Frozen"/>, events, gauge) only once
    /// the caller has installed the target and calls <see cref="Publish"/>: a description that says frozen never
    /// shows the counters of the abandoned state.
    /// </summary>
    public async Task<TenantEventRecord> RecordFreezeAsync(FreezeTrigger trigger, FreezeTarget target)
    {
        long version = target.Version, sequence = target.LastAppliedSequence;
        var returned = version == 0 ? "the initial state" : $"checkpoint v{version.ToString(CultureInfo.InvariantCulture)}";
        var reason = $"{trigger.Reason}; learning frozen and rolled back to {returned} (sequence {sequence.ToString(CultureInfo.InvariantCulture)})" +
                     (target.Note is { } note ? $" — {note}" : "") + "; examples are still logged, and learned on resume";
        var record = new TenantEventRecord
        {
            TenantId = tenantId, TimeUtc = Now(), Kind = TenantEvent.Frozen, Reason = reason,
            CheckpointVersion = version, LastAppliedSequence = sequence,
        };
        await using (var db = await s.Db.CreateDbContextAsync())
        {
            await using var tx = await db.Database.BeginTransactionAsync();
            await db.Tenants.Where(t => t.TenantId == tenantId).ExecuteUpdateAsync(u => u
                .SetProperty(t => t.Frozen, true).SetProperty(t => t.CheckpointVersion, version));
            await DiscardAfterAsync(db, tenantId, version);
            await db.Examples.Where(x => x.TenantId == tenantId && x.Sequence > sequence && x.Applied)
                .ExecuteUpdateAsync(u => u.SetProperty(x => x.Applied, false).SetProperty(x => x.AppliedUtc, (DateTime?)null));
            db.TenantEvents.Add(record);
            await db.SaveChangesAsync();
            await tx.CommitAsync();
        }
        return record;
    }

    /// <summary>The freeze <paramref name="record"/> holds is now the tenant's state in memory too.</summary>
    public void Publish(TenantEventRecord record)
    {
        _frozen = true;
        Add(record);
        Monitor.Reset(record.LastAppliedSequence);
        s.Metrics.SetFrozen(tenantId, true);
        s.Logger.LogWarning("Tenant {Tenant} frozen: {Reason}", tenantId, record.Reason);
    }

    /// <summary>Durably ends the freeze; the caller has queued the <paramref name="replay"/> log entries after <paramref name="sequence"/>.</summary>
    public async Task RecordResumeAsync(long version, long sequence, int replay)
    {
        var reason = $"resumed on request: {replay.ToString(CultureInfo.InvariantCulture)} logged examples after sequence " +
                     $"{sequence.ToString(CultureInfo.InvariantCulture)} are learned again, in order";
        var record = new TenantEventRecord
        {
            TenantId = tenantId, TimeUtc = Now(), Kind = TenantEvent.Resumed, Reason = reason,
            CheckpointVersion = version, LastAppliedSequence = sequence,
        };
        await using (var db = await s.Db.CreateDbContextAsync())
        {
            await using var tx = await db.Database.BeginTransactionAsync();
            await db.Tenants.Where(t => t.TenantId == tenantId).ExecuteUpdateAsync(u => u.SetProperty(t => t.Frozen, false));
            db.TenantEvents.Add(record);
            await db.SaveChangesAsync();
            await tx.CommitAsync();
        }
        Monitor.Reset(sequence);
        _frozen = false;
        Add(record);
        s.Metrics.SetFrozen(tenantId, false);
        s.Logger.LogInformation("Tenant {Tenant}: {Reason}", tenantId, reason);
    }

    /// <summary>At startup: every stored frozen tenant reports loko_tenant_frozen 1 before it is loaded.</summary>
    public static void SeedMetrics(IServiceProvider services)
    {
        using var db = services.GetRequiredService<IDbContextFactory<LoKODbContext>>().CreateDbContext();
        var metrics = services.GetRequiredService<Telemetry.LoKOMetrics>();
        foreach (var tenantId in db.Tenants.AsNoTracking().Where(t => t.Frozen).Select(t => t.TenantId).ToList())
            metrics.SetFrozen(tenantId, true);
    }

    /// <summary>Checkpoints after <paramref name="version"/> hold a state that was abandoned: never a freeze's target.</summary>
    public static Task DiscardAfterAsync(LoKODbContext db, string tenantId, long version) =>
        db.Checkpoints.Where(c => c.TenantId == tenantId && c.Version > version && !c.Discarded)
            .ExecuteUpdateAsync(u => u.SetProperty(c => c.Discarded, true));

    /// <summary>To the microsecond, as PostgreSQL keeps it: an event reads the same before and after a restart.</summary>
    static DateTime Now()
    {
        var now = DateTime.UtcNow;
        return new DateTime(now.Ticks - now.Ticks % 10, DateTimeKind.Utc);
    }

    void Add(TenantEventRecord record)
    {
        lock (_gate)
        {
            _events.Add(Event(record));
            if (_events.Count > ShownEvents) _events.RemoveAt(0);
        }
    }

    static TenantEvent Event(TenantEventRecord r) => new(
        new DateTimeOffset(DateTime.SpecifyKind(r.TimeUtc, DateTimeKind.Utc)), r.Kind, r.Reason, r.CheckpointVersion, r.LastAppliedSequence);
}
