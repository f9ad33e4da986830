using LoKO.Server.Storage;
using Microsoft.EntityFrameworkCore;

namespace LoKO.Server.Tenants;

/// <summary>
/// The log: durable appends (the acknowledgement path, outside the loop, under their own gate), idempotency keys,
/// sequence numbers, and reading the log back for replay.
/// </summary>
public sealed partial class TenantActor
{
    // A commit failed: it may have landed all the same (the error came with its acknowledgement), so the next append
    // first takes in whatever the log holds past the sequence counter.
    bool _appendUncertain;

    /// <summary>
    /// Appends examples to the durable log (one transaction) and queues them for learning. Returns only once
    /// they are committed. A repeated exampleId returns its original sequence and is not appended again. A log the
    /// store cannot write is <see cref="StorageUnavailableException"/>: nothing is acknowledged, and the next append
    /// tries the store again.
    /// </summary>
    public async Task<IReadOnlyList<AppendOutcome>> AppendAsync(IReadOnlyList<NewExample> examples, bool waitForRoom, CancellationToken ct)
    {
        if (waitForRoom) await WaitForRoomAsync(examples.Count, ct);
        await _appendGate.WaitAsync(ct);
        try
        {
            if (_stop.IsCancellationRequested) throw new TenantNotFoundException(TenantId);
            if (IsFenced) throw MovedOn();
            if (!waitForRoom && _pending.Count + examples.Count > _s.Options.MaxQueuedExamples)
                throw new QueueFullException(TenantId, _s.Options.MaxQueuedExamples, RetryAfter());
            try
            {
                return await AppendCoreAsync(examples, ct);
            }
            catch (TenantFencedException e)
            {
                throw Fenced(e);
            }
            catch (Exception e) when (StorageFaults.IsStorageFault(e))
            {
                _appendUncertain = true;
                throw Unavailable("append", e, "the examples could not be made durable and none was acknowledged");
            }
        }
        finally
        {
            _appendGate.Release();
        }
    }

    async Task<IReadOnlyList<AppendOutcome>> AppendCoreAsync(IReadOnlyList<NewExample> examples, CancellationToken ct)
    {
        await using var db = await _s.Db.CreateDbContextAsync(ct);
        if (_appendUncertain) await AdoptLogTailAsync(db, ct);
        var ids = examples.Select(e => e.ExampleId).OfType<string>().Distinct().ToList();
        var known = ids.Count == 0
            ? new Dictionary<string, long>()
            : await db.ExampleIds.AsNoTracking().Where(x => x.TenantId == TenantId && ids.Contains(x.ExampleId))
                .ToDictionaryAsync(x => x.ExampleId, x => x.Sequence, ct);

        var outcomes = new List<AppendOutcome>(examples.Count);
        var queued = new List<PendingStep>();
        long next = _nextSequence;
        var now = DateTime.UtcNow;
        foreach (var e in examples)
        {
            if (e.ExampleId is not null && known.TryGetValue(e.ExampleId, out var seen))
            {
                outcomes.Add(new AppendOutcome(seen, Duplicate: true));
                continue;
            }
            long sequence = next++;
            if (e.ExampleId is not null)
            {
                known[e.ExampleId] = sequence;
                db.ExampleIds.Add(new ExampleIdRecord { TenantId = TenantId, ExampleId = e.ExampleId, Sequence = sequence });
            }
            db.Examples.Add(new ExampleRecord
            {
                TenantId = TenantId, Sequence = sequence,
                PayloadKind = e.Payload.Kind, Payload = e.Payload.Bytes, Width = e.Payload.Width, Height = e.Payload.Height,
                Label = e.Label, LabelIndex = e.LabelIndex, AcceptedUtc = now,
                ShownLabelIndex = e.Shown?.LabelIndex, ShownLoss = e.Shown?.Loss,
            });
            queued.Add(new PendingStep(sequence, e.Payload, e.LabelIndex, e.Shown));
            outcomes.Add(new AppendOutcome(sequence, Duplicate: false));
        }
        Quotas.CheckLogRoom(TenantId, Interlocked.Read(ref _logEntries), queued.Count, LogRetryAfter());
        // Once the commit starts it finishes: an abandoned request must not leave the sequence counter unsure.
        if (queued.Count > 0)
        {
            await using var tx = await db.Database.BeginTransactionAsync(CancellationToken.None);
            await TenantEpochs.CheckAsync(db, TenantId, _epoch);
            await db.SaveChangesAsync(CancellationToken.None);
            await tx.CommitAsync(CancellationToken.None);
        }
        Interlocked.Exchange(ref _nextSequence, next);
        Interlocked.Add(ref _logEntries, queued.Count);
        // A frozen tenant logs and acknowledges, but learns nothing until resumed (its resume replays the log).
        if (!_freeze.Frozen) foreach (var q in queued) _pending.Enqueue(q);
        _s.Metrics.Accepted(_gauges, queued.Count);
        Wake();
        return outcomes;
    }

    /// <summary>
    /// After a failed commit: entries it wrote after all are in the log, unacknowledged. They are taken in as a restart
    /// would find them — sequences counted, queued for learning — so they are learned once and never overwritten.
    /// </summary>
    async Task AdoptLogTailAsync(LoKODbContext db, CancellationToken ct)
    {
        var tail = await db.Examples.AsNoTracking().Where(x => x.TenantId == TenantId && x.Sequence >= _nextSequence)
            .OrderBy(x => x.Sequence).ToListAsync(ct);
        if (tail.Count > 0)
        {
            if (!_freeze.Frozen) foreach (var x in tail.Where(x => !x.RolledBack)) _pending.Enqueue(PendingStep.Of(x));
            Interlocked.Exchange(ref _nextSequence, tail[^1].Sequence + 1);
            Interlocked.Add(ref _logEntries, tail.Count);
            _s.Logger.LogWarning("Tenant {Tenant}: a failed append had committed sequences {First}–{Last} after all; they are learned as logged",
                TenantId, tail[0].Sequence, tail[^1].Sequence);
            Wake();
        }
        _appendUncertain = false;
    }

    async Task WaitForRoomAsync(int count, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(_s.Options.QueueWaitSeconds);
        while (_pending.Count + count > _s.Options.MaxQueuedExamples && _pending.Count > 0)
        {
            var remaining = deadline - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero) throw new QueueFullException(TenantId, _s.Options.MaxQueuedExamples, RetryAfter());
            var room = Volatile.Read(ref _room).Task;
            if (_pending.Count + count <= _s.Options.MaxQueuedExamples) break;
            try { await room.WaitAsync(remaining, ct); }
            catch (TimeoutException) { }
        }
    }

    TimeSpan RetryAfter() => TimeSpan.FromSeconds(Math.Clamp(_pending.Count / 50.0, 1, 60));

    /// <summary>Queues the log entries after <paramref name="afterSequence"/> (never rolled back ones), in order.</summary>
    async Task QueueReplayAsync(long afterSequence, CancellationToken ct)
    {
        foreach (var step in await ReadLogAsync(afterSequence, long.MaxValue, ct)) _pending.Enqueue(step);
    }

    async Task<List<PendingStep>> ReadLogAsync(long afterSequence, long throughSequence, CancellationToken ct)
    {
        await using var db = await _s.Db.CreateDbContextAsync(ct);
        var entries = await db.Examples.AsNoTracking()
            .Where(x => x.TenantId == TenantId && x.Sequence > afterSequence && x.Sequence <= throughSequence && !x.RolledBack)
            .OrderBy(x => x.Sequence)
            .ToListAsync(ct);
        return entries.ConvertAll(PendingStep.Of);
    }
}
