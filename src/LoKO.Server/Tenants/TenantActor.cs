using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using LoKO.Contracts.Rest;
using LoKO.Contracts.Validation;
using LoKO.Engine.Checkpoints;
using LoKO.Engine.Filter;
using LoKO.Engine.Lora;
using LoKO.Engine.Models;
using LoKO.Engine.Optimizers;
using LoKO.Server.Compute;
using LoKO.Server.Hosting;
using LoKO.Server.Storage;
using LoKO.Server.Telemetry;
using Microsoft.EntityFrameworkCore;
using TorchSharp;
using static TorchSharp.torch;

namespace LoKO.Server.Tenants;

/// <summary>Services every tenant actor uses.</summary>
public sealed record TenantServices(
    IDbContextFactory<LoKODbContext> Db,
    ComputeExecutor Compute,
    ModelRegistry Models,
    CheckpointFiles Files,
    LoKOOptions Options,
    LoKOMetrics Metrics,
    ILogger Logger);

/// <summary>
/// One tenant, one actor: a single loop owns the adapter and optimizer and does everything that reads or
/// changes them — learning steps in sequence order, predictions, checkpoints, rollback — one at a time.
/// Numeric work is handed to the <see cref="ComputeExecutor"/>; the loop itself only awaits.
/// Appends run outside the loop (serialised by their own gate) so acknowledgements never wait for learning.
/// </summary>
public sealed partial class TenantActor
{
    readonly TenantServices _s;
    readonly ConcurrentQueue<PendingStep> _pending = new();
    readonly Channel<Func<Task>> _commands = Channel.CreateUnbounded<Func<Task>>();
    readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    readonly SemaphoreSlim _appendGate = new(1, 1);
    readonly CancellationTokenSource _stop = new();
    TaskCompletionSource _room = new(TaskCreationOptions.RunContinuationsAsynchronously);
    Task _loop = Task.CompletedTask;

    BaseModel _model = null!;
    TenantAdapter _adapter = null!;
    IOnlineOptimizer _optimizer = null!;

    // Written by the loop (or under the append gate); read anywhere.
    long _nextSequence;
    long _lastApplied, _applied, _rejected, _correct;
    long _checkpointVersion, _nextCheckpointVersion;
    long _stepsSinceCheckpoint;
    DateTime _lastCheckpointUtc = DateTime.UtcNow;
    bool _warmupPending;
    long _logEntries; // rows of this tenant's log (accepted, not yet compacted away): what quotas.maxLogEntries caps
    readonly TenantGauges _gauges;
    readonly TenantFreeze _freeze;

    TenantActor(TenantServices services, TenantSettings settings)
    {
        _s = services;
        Settings = settings;
        _gauges = services.Metrics.Track(settings.TenantId, () => _pending.Count);
        Predictions = new PendingPredictions(settings.TenantId, services.Db, services.Options.PredictionTtlSeconds, services.Options.MaxPendingPredictions);
        Quotas = QuotaLimits.Of(settings.Quotas, services.Options.Quotas);
        _freeze = new TenantFreeze(settings.TenantId, services);
    }

    public TenantSettings Settings { get; }
    /// <summary>The quotas in force: the tenant's own, else the server's defaults.</summary>
    public QuotaLimits Quotas { get; }
    /// <summary>The predictions kept for feedback.</summary>
    public PendingPredictions Predictions { get; }
    public string TenantId => Settings.TenantId;
    /// <summary>What an example or input must look like for this tenant (its labels and input modality), and its quotas.</summary>
    public TenantSchema Schema => new(Settings.Labels,
        _model.Modality == Engine.Models.Modality.Text ? InputModality.Text : InputModality.Image, Quotas);
    /// <summary>Estimated memory this tenant holds while resident (the base model is shared and not counted).</summary>
    public long ResidentBytes => TenantFootprint.Bytes(Settings.Optimizer, _adapter.Layout.Size, Settings.Labels.Count);

    public TenantStatus Status => new(
        Interlocked.Read(ref _nextSequence) - 1,
        Interlocked.Read(ref _applied),
        Interlocked.Read(ref _rejected),
        Interlocked.Read(ref _correct),
        Interlocked.Read(ref _lastApplied),
        Interlocked.Read(ref _checkpointVersion),
        _pending.Count);

    /// <summary>The tenant's settings and counters as the APIs answer them.</summary>
    public TenantResponse Describe()
    {
        var s = Settings;
        var status = Status;
        return new TenantResponse
        {
            TenantId = s.TenantId, Preset = s.Preset, Labels = s.Labels, Optimizer = s.Optimizer,
            Lora = new LoraSettings { Rank = s.LoraOptions.Rank, Alpha = s.LoraOptions.Alpha, Targets = s.Lora.Targets ?? _model.DefaultTargets },
            Filter = s.DescribedFilter,
            ExamplesAccepted = status.ExamplesAccepted, ExamplesApplied = status.ExamplesApplied, ExamplesRejected = status.ExamplesRejected,
            OnlineAccuracy = status.OnlineAccuracy, CheckpointVersion = status.CheckpointVersion,
            LastAppliedSequence = status.LastAppliedSequence, QueueDepth = status.QueueDepth, Seed = s.Seed,
            CreatedUtc = new DateTimeOffset(DateTime.SpecifyKind(s.CreatedUtc, DateTimeKind.Utc)),
            Quotas = Quotas.Describe(), LogEntries = Interlocked.Read(ref _logEntries), Frozen = _freeze.Frozen, Events = _freeze.Events,
        };
    }

    // ---------------------------------------------------------------- activation

    /// <summary>Loads the tenant: its latest checkpoint (or a fresh adapter), then queues every later log entry for replay.</summary>
    public static async Task<TenantActor> ActivateAsync(string tenantId, TenantServices s, CancellationToken ct)
    {
        TenantRecord record;
        CheckpointRecord? checkpoint = null;
        long maxSequence, logEntries;
        await using (var db = await s.Db.CreateDbContextAsync(ct))
        {
            record = await db.Tenants.AsNoTracking().SingleOrDefaultAsync(t => t.TenantId == tenantId, ct)
                     ?? throw new TenantNotFoundException(tenantId);
            if (record.CheckpointVersion > 0)
                checkpoint = await db.Checkpoints.AsNoTracking().SingleAsync(c => c.TenantId == tenantId && c.Version == record.CheckpointVersion, ct);
            // Compaction may have deleted every log entry: checkpoints and idempotency keys remember sequences too.
            maxSequence = Math.Max(
                await db.Examples.Where(x => x.TenantId == tenantId).MaxAsync(x => (long?)x.Sequence, ct) ?? 0,
                Math.Max(
                    await db.Checkpoints.Where(c => c.TenantId == tenantId).MaxAsync(c => (long?)c.LastAppliedSequence, ct) ?? 0,
                    await db.ExampleIds.Where(x => x.TenantId == tenantId).MaxAsync(x => (long?)x.Sequence, ct) ?? 0));
            logEntries = await db.Examples.LongCountAsync(x => x.TenantId == tenantId, ct);
        }

        var actor = new TenantActor(s, TenantSettings.FromRecord(record))
        {
            _nextSequence = maxSequence + 1,
            _checkpointVersion = record.CheckpointVersion,
            _nextCheckpointVersion = record.NextCheckpointVersion,
            _logEntries = logEntries,
        };
        try
        {
            actor._model = await s.Models.GetAsync(record.Preset);
            await s.Compute.Run(() => actor.BuildState(checkpoint));
            if (checkpoint is not null) actor.RestoreCounters(checkpoint);
            await actor._freeze.LoadAsync(record, ct);
            actor._freeze.Monitor.Reset(checkpoint?.LastAppliedSequence ?? 0);
            // A frozen tenant learns nothing until it is resumed; the resume replays its log.
            if (!actor._freeze.Frozen) await actor.QueueReplayAsync(checkpoint?.LastAppliedSequence ?? 0, ct);
        }
        catch
        {
            s.Metrics.Untrack(tenantId, actor._gauges);
            throw;
        }
        actor._loop = Task.Run(actor.RunAsync, CancellationToken.None);
        s.Logger.LogInformation("Activated tenant {Tenant}: checkpoint v{Version}, {Replay} log entries to replay{Frozen}",
            tenantId, record.CheckpointVersion, actor._pending.Count, actor._freeze.Frozen ? " (frozen)" : "");
        return actor;
    }

    async Task QueueReplayAsync(long afterSequence, CancellationToken ct)
    {
        await using var db = await _s.Db.CreateDbContextAsync(ct);
        var entries = db.Examples.AsNoTracking()
            .Where(x => x.TenantId == TenantId && x.Sequence > afterSequence && !x.RolledBack)
            .OrderBy(x => x.Sequence)
            .AsAsyncEnumerable();
        await foreach (var x in entries.WithCancellation(ct))
            _pending.Enqueue(new PendingStep(x.Sequence, new StoredPayload(x.PayloadKind, x.Payload, x.Width, x.Height), x.LabelIndex,
                x.ShownLabelIndex is { } shown ? new ShownPrediction(shown, x.ShownLoss ?? double.NaN) : null));
    }

    void RestoreCounters(CheckpointRecord c)
    {
        Interlocked.Exchange(ref _lastApplied, c.LastAppliedSequence);
        Interlocked.Exchange(ref _applied, c.ExamplesApplied);
        Interlocked.Exchange(ref _rejected, c.ExamplesRejected);
        Interlocked.Exchange(ref _correct, c.Correct);
        _stepsSinceCheckpoint = 0;
        _lastCheckpointUtc = DateTime.UtcNow;
    }

    /// <summary>
    /// Compute thread: a fresh adapter from the tenant's seed (or the adapter it was created from), then the
    /// checkpoint's state if there is one. With <paramref name="initial"/> (a freeze returning to the initial state)
    /// the adapter is built again.
    /// </summary>
    void BuildState(CheckpointRecord? checkpoint, bool initial = false)
    {
        if (initial)
        {
            _adapter?.Dispose();
            _adapter = null!;
        }
        if (_adapter is null)
        {
            _adapter = _model.CreateAdapter(Settings.LoraOptions, Settings.Labels.Count, Settings.Seed);
            LoadImportedAdapter();
        }
        _optimizer?.Dispose();
        _optimizer = null!;
        if (checkpoint is null)
        {
            // Only at activation, right after the adapter was initialised from the tenant's seed.
            _optimizer = TenantOptimizers.Create(Settings, _adapter);
            return;
        }
        using var stream = _s.Files.OpenRead(checkpoint.Path);
        _optimizer = TenantOptimizers.Load(Settings, _adapter, stream);
        _warmupPending = false;
    }

    /// <summary>A tenant created from an imported adapter starts from its θ, as stored at creation.</summary>
    void LoadImportedAdapter()
    {
        var path = _s.Files.InitialPath(TenantId);
        if (!_s.Files.Exists(path)) return;
        using var scope = NewDisposeScope();
        using var stream = _s.Files.OpenRead(path);
        var theta = SafetensorsCodec.Read(stream).Tensors["theta"];
        using (no_grad()) _adapter.Theta.copy_(theta);
    }

    // ---------------------------------------------------------------- appends (acknowledgement path)

    /// <summary>
    /// Appends examples to the durable log (one transaction) and queues them for learning. Returns only once
    /// they are committed. A repeated exampleId returns its original sequence and is not appended again.
    /// </summary>
    public async Task<IReadOnlyList<AppendOutcome>> AppendAsync(IReadOnlyList<NewExample> examples, bool waitForRoom, CancellationToken ct)
    {
        if (waitForRoom) await WaitForRoomAsync(examples.Count, ct);
        await _appendGate.WaitAsync(ct);
        try
        {
            if (_stop.IsCancellationRequested) throw new TenantNotFoundException(TenantId);
            if (!waitForRoom && _pending.Count + examples.Count > _s.Options.MaxQueuedExamples)
                throw new QueueFullException(TenantId, _s.Options.MaxQueuedExamples, RetryAfter());

            await using var db = await _s.Db.CreateDbContextAsync(ct);
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
            if (queued.Count > 0) await db.SaveChangesAsync(CancellationToken.None);
            Interlocked.Exchange(ref _nextSequence, next);
            Interlocked.Add(ref _logEntries, queued.Count);
            // A frozen tenant logs and acknowledges, but learns nothing until resumed (its resume replays the log).
            if (!_freeze.Frozen) foreach (var q in queued) _pending.Enqueue(q);
            _s.Metrics.Accepted(_gauges, queued.Count);
            Wake();
            return outcomes;
        }
        finally
        {
            _appendGate.Release();
        }
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

    void SignalRoom() => Interlocked.Exchange(ref _room, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    void Wake() => _wake.Writer.TryWrite(true);

    // ---------------------------------------------------------------- the loop

    async Task RunAsync()
    {
        var ct = _stop.Token;
        while (true)
        {
            try
            {
                while (_commands.Reader.TryRead(out var command)) await command();
                if (ct.IsCancellationRequested) return;
                if (_freeze.Monitor.Tripped is { } trip)
                {
                    await FreezeAsync(trip);
                    continue;
                }
                if (!_freeze.Frozen && _pending.TryPeek(out var next))
                {
                    await _s.Compute.Run(() => Step(next));
                    _pending.TryDequeue(out _);
                    SignalRoom();
                    if (_freeze.Monitor.Tripped is not null) continue; // no checkpoint of a state past the drop
                    if (_stepsSinceCheckpoint >= _s.Options.CheckpointEverySteps && !_warmupPending) await CheckpointCoreAsync();
                    continue;
                }
                var interval = TimeSpan.FromSeconds(_s.Options.CheckpointEverySeconds);
                var due = _lastCheckpointUtc + interval - DateTime.UtcNow;
                if (_stepsSinceCheckpoint > 0 && !_warmupPending && due <= TimeSpan.Zero)
                {
                    await CheckpointCoreAsync();
                    continue;
                }
                var wait = _stepsSinceCheckpoint > 0 && due > TimeSpan.Zero ? due : interval;
                await Task.WhenAny(_wake.Reader.WaitToReadAsync(ct).AsTask(), Task.Delay(wait, ct));
                _wake.Reader.TryRead(out _);
            }
            catch (Exception e)
            {
                // A failed checkpoint (disk, database) is retried later; the log still holds every example.
                _s.Logger.LogError(e, "Tenant {Tenant}: loop error", TenantId);
                try { await Task.Delay(TimeSpan.FromSeconds(1), ct); } catch (OperationCanceledException) { return; }
            }
        }
    }

    /// <summary>
    /// Compute thread: one prequential step — predict, then learn — for one logged example. Feedback on a prediction
    /// is scored by what that prediction showed (<see cref="PendingStep.Shown"/>), the outcome its user saw.
    /// </summary>
    void Step(PendingStep step)
    {
        using var scope = NewDisposeScope();
        var clock = Stopwatch.StartNew();
        try
        {
            var input = step.Payload.ToModelInput();
            var targets = tensor(new long[] { step.LabelIndex });
            // The forward closure encodes from the managed input each time: the filter may call it again
            // later (bounded-P₀ warm-up replays), after this step's dispose scope has ended.
            using var outcome = _optimizer.Step(_model.Pass([input], _adapter), targets);
            long predicted = step.Shown?.LabelIndex ?? outcome.Predictions.argmax(1).item<long>();
            double loss = step.Shown?.Loss ?? outcome.Loss;
            if (outcome.Status == StepStatus.Rejected)
            {
                Interlocked.Increment(ref _rejected);
                _s.Logger.LogWarning("Tenant {Tenant}: example {Sequence} rejected: {Reason}", TenantId, step.Sequence, outcome.Reason);
            }
            else
            {
                Interlocked.Increment(ref _applied);
                if (predicted == step.LabelIndex) Interlocked.Increment(ref _correct);
            }
            _warmupPending = outcome.Status == StepStatus.Deferred;
            _freeze.Monitor.Observe(step.Sequence, predicted == step.LabelIndex, outcome.GuardEvent);
            _s.Metrics.Stepped(_gauges, clock.Elapsed, applied: outcome.Status != StepStatus.Rejected, correct: predicted == step.LabelIndex,
                loss, outcome.InnovationNorm, outcome.NoiseTrace, outcome.MeanCovariance, outcome.GuardEvent);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A poison example must not stall the tenant: it is counted as rejected and the log moves on.
            Interlocked.Increment(ref _rejected);
            _s.Metrics.Rejected(_gauges);
            _s.Logger.LogWarning(e, "Tenant {Tenant}: example {Sequence} could not be learned", TenantId, step.Sequence);
        }
        Interlocked.Exchange(ref _lastApplied, step.Sequence);
        _stepsSinceCheckpoint++;
    }

    Task<T> Enqueue<T>(Func<Task<T>> command)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var written = _commands.Writer.TryWrite(async () =>
        {
            try { done.SetResult(await command()); }
            catch (Exception e) { done.SetException(e); }
        });
        if (!written) throw new TenantNotFoundException(TenantId);
        Wake();
        return done.Task;
    }

    // ---------------------------------------------------------------- commands

    /// <summary>A prediction with the current adapter, kept for feedback (outside the loop) when the server keeps predictions.</summary>
    public async Task<PredictionResult> PredictAsync(StoredPayload payload)
    {
        var (probabilities, version) = await Enqueue(async () =>
        {
            var input = payload.ToModelInput();
            var p = await _s.Compute.Run(() =>
            {
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                var logits = _model.Forward([input], _adapter);
                return logits.softmax(1).to(ScalarType.Float64).cpu().data<double>().ToArray();
            });
            return (p, Interlocked.Read(ref _lastApplied));
        });
        int best = Array.IndexOf(probabilities, probabilities.Max());
        var map = new Dictionary<string, double>(Settings.Labels.Count);
        for (int i = 0; i < probabilities.Length; i++) map[Settings.Labels[i]] = probabilities[i];
        var predictionId = await Predictions.AddAsync(payload, best, probabilities, version);
        return new PredictionResult(Settings.Labels[best], map, version, predictionId);
    }

    /// <summary>The label of a kept prediction, appended once as an example (see <see cref="PendingPredictions.FeedbackAsync"/>).</summary>
    public Task<AppendOutcome> FeedbackAsync(string predictionId, string label, int labelIndex, CancellationToken ct) =>
        Predictions.FeedbackAsync(predictionId, label, labelIndex, examples => AppendAsync(examples, waitForRoom: false, ct), ct);

    /// <summary>Writes a checkpoint now (after the steps already taken; queued examples stay queued).</summary>
    public Task<CheckpointResponse> CheckpointAsync() => Enqueue(async () =>
        _warmupPending ? throw new InvalidOperationException("the bounded-P₀ warm-up is still gathering examples; checkpoint after it completes")
                       : await CheckpointCoreAsync());

    async Task<CheckpointResponse> CheckpointCoreAsync()
    {
        var started = DateTime.UtcNow;
        long version = _nextCheckpointVersion;
        var path = _s.Files.RelativePath(TenantId, version);
        long lastApplied = Interlocked.Read(ref _lastApplied);
        var noise = await _s.Compute.Run(() =>
        {
            _s.Files.WriteAtomically(path, SaveState);
            return NoiseEstimates.Of(_optimizer);
        });

        var record = new CheckpointRecord
        {
            TenantId = TenantId, Version = version, Path = path, LastAppliedSequence = lastApplied,
            ExamplesApplied = Interlocked.Read(ref _applied), ExamplesRejected = Interlocked.Read(ref _rejected),
            Correct = Interlocked.Read(ref _correct), CreatedUtc = started,
        };
        await using (var db = await _s.Db.CreateDbContextAsync())
        {
            await using var tx = await db.Database.BeginTransactionAsync();
            db.Checkpoints.Add(record);
            if (noise is { } n)
                db.NoiseHistory.Add(NoiseEstimates.Record(TenantId, version, n, started));
            await db.SaveChangesAsync();
            await db.Tenants.Where(t => t.TenantId == TenantId).ExecuteUpdateAsync(s => s
                .SetProperty(t => t.CheckpointVersion, version)
                .SetProperty(t => t.NextCheckpointVersion, version + 1));
            await db.Examples.Where(x => x.TenantId == TenantId && x.Sequence <= lastApplied && !x.Applied && !x.RolledBack)
                .ExecuteUpdateAsync(s => s.SetProperty(x => x.Applied, true).SetProperty(x => x.AppliedUtc, started));
            await tx.CommitAsync();
        }
        Interlocked.Exchange(ref _checkpointVersion, version);
        _nextCheckpointVersion = version + 1;
        _stepsSinceCheckpoint = 0;
        _lastCheckpointUtc = DateTime.UtcNow;
        _s.Metrics.CheckpointWritten(_gauges, _lastCheckpointUtc - started);
        _s.Logger.LogInformation("Tenant {Tenant}: checkpoint v{Version} at sequence {Sequence} in {Ms:F0} ms",
            TenantId, version, lastApplied, (DateTime.UtcNow - started).TotalMilliseconds);
        await CompactAsync();
        return CheckpointResponses.From(record, noise?.Trace);
    }

    /// <summary>After a checkpoint: drops older checkpoints and covered log entries. A failure only postpones it to the next checkpoint.</summary>
    async Task CompactAsync()
    {
        try
        {
            var result = await LogCompaction.CompactAsync(_s.Db, _s.Files, TenantId, _s.Options.RetainCheckpoints, _freeze.Monitor.ProtectThrough);
            if (result is not null) Interlocked.Add(ref _logEntries, -result.ExamplesDeleted);
            if (result is { CheckpointsDeleted: > 0 } or { ExamplesDeleted: > 0 })
                _s.Logger.LogDebug("Tenant {Tenant}: compacted {Checkpoints} checkpoints and {Examples} log entries up to sequence {Sequence}",
                    TenantId, result.CheckpointsDeleted, result.ExamplesDeleted, result.CoveredSequence);
        }
        catch (Exception e)
        {
            _s.Logger.LogWarning(e, "Tenant {Tenant}: log compaction failed; it runs again after the next checkpoint", TenantId);
        }
    }

    void SaveState(Stream stream) => TenantOptimizers.Save(_optimizer, stream);

    /// <summary>
    /// Returns to checkpoint <paramref name="version"/>: its state is loaded, and every log entry after its
    /// sequence (applied or still queued) is marked rolled back and never learned.
    /// </summary>
    public Task<TenantStatus> RollbackAsync(long version) => Enqueue(async () =>
    {
        CheckpointRecord checkpoint;
        await using (var db = await _s.Db.CreateDbContextAsync())
            checkpoint = await db.Checkpoints.AsNoTracking().SingleOrDefaultAsync(c => c.TenantId == TenantId && c.Version == version)
                         ?? throw await NoCheckpointAsync(db, version);

        await _appendGate.WaitAsync();
        try
        {
            await _s.Compute.Run(() => BuildState(checkpoint));
            _pending.Clear();
            SignalRoom();
            await using var db = await _s.Db.CreateDbContextAsync();
            await using var tx = await db.Database.BeginTransactionAsync();
            await db.Examples.Where(x => x.TenantId == TenantId && x.Sequence > checkpoint.LastAppliedSequence && !x.RolledBack)
                .ExecuteUpdateAsync(s => s.SetProperty(x => x.RolledBack, true).SetProperty(x => x.Applied, false).SetProperty(x => x.AppliedUtc, (DateTime?)null));
            await db.Tenants.Where(t => t.TenantId == TenantId).ExecuteUpdateAsync(s => s.SetProperty(t => t.CheckpointVersion, version));
            await TenantFreeze.DiscardAfterAsync(db, TenantId, version);
            await tx.CommitAsync();
            RestoreCounters(checkpoint);
            _freeze.Monitor.Reset(checkpoint.LastAppliedSequence);
            Interlocked.Exchange(ref _checkpointVersion, version);
        }
        finally
        {
            _appendGate.Release();
        }
        _s.Logger.LogInformation("Tenant {Tenant}: rolled back to checkpoint v{Version} (sequence {Sequence})", TenantId, version, checkpoint.LastAppliedSequence);
        return Status;
    });

    async Task<FieldValidationException> NoCheckpointAsync(LoKODbContext db, long version)
    {
        var v = version.ToString(CultureInfo.InvariantCulture);
        if (version >= _nextCheckpointVersion) return new FieldValidationException("version", $"tenant '{TenantId}' has no checkpoint {v}");
        var kept = await db.Checkpoints.AsNoTracking().Where(c => c.TenantId == TenantId).OrderBy(c => c.Version).Select(c => c.Version).ToListAsync();
        return new FieldValidationException("version",
            $"checkpoint {v} of tenant '{TenantId}' was removed by log compaction (LoKO:RetainCheckpoints keeps the latest " +
            $"{_s.Options.RetainCheckpoints.ToString(CultureInfo.InvariantCulture)}); it can roll back to {string.Join(", ", kept)}");
    }

    /// <summary>The adapter as safetensors: θ, each LoRA piece and the head by name, and how to read them.</summary>
    public Task<AdapterFile> ExportAsync() => Enqueue(async () =>
    {
        long version = Interlocked.Read(ref _lastApplied);
        var bytes = await _s.Compute.Run(() =>
        {
            using var scope = NewDisposeScope();
            var theta = _adapter.Theta.detach();
            var tensors = new Dictionary<string, Tensor> { ["theta"] = theta };
            foreach (var segment in _adapter.Layout.Segments)
                tensors[segment.Name] = theta.narrow(0, segment.Offset, segment.Length).view(segment.Shape);
            var meta = new Dictionary<string, string>
            {
                ["tenant"] = TenantId,
                ["preset"] = Settings.Preset,
                ["labels"] = JsonSerializer.Serialize(Settings.Labels),
                ["rank"] = _adapter.Layout.Rank.ToString(CultureInfo.InvariantCulture),
                ["scale"] = _adapter.Layout.Scale.ToString("R", CultureInfo.InvariantCulture),
                ["adapterVersion"] = version.ToString(CultureInfo.InvariantCulture),
            };
            using var stream = new MemoryStream();
            SafetensorsCodec.Write(stream, tensors, meta);
            return stream.ToArray();
        });
        return new AdapterFile(bytes, version);
    });

    // ---------------------------------------------------------------- shutdown

    /// <summary>Stops the loop after the current step; with <paramref name="checkpoint"/>, saves what was learned since the last checkpoint.</summary>
    public async Task StopAsync(bool checkpoint)
    {
        await _appendGate.WaitAsync();
        try
        {
            _stop.Cancel();
            _commands.Writer.TryComplete();
        }
        finally { _appendGate.Release(); }
        await _loop;
        while (_commands.Reader.TryRead(out var command)) await command();
        if (checkpoint && _stepsSinceCheckpoint > 0 && !_warmupPending)
        {
            try { await CheckpointCoreAsync(); }
            catch (Exception e) { _s.Logger.LogError(e, "Tenant {Tenant}: checkpoint at shutdown failed; the log replays on restart", TenantId); }
        }
        _s.Metrics.Untrack(TenantId, _gauges);
        await _s.Compute.Run(() =>
        {
            _optimizer.Dispose();
            _adapter.Dispose();
        });
    }
}
