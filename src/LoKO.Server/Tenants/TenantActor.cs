using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using LoKO.Contracts.Rest;
using LoKO.Contracts.Validation;
using LoKO.Engine.Checkpoints;
using LoKO.Engine.Lora;
using LoKO.Engine.Models;
using LoKO.Engine.Optimizers;
using LoKO.Server.Compute;
using LoKO.Server.Hosting;
using LoKO.Server.Storage;
using LoKO.Server.Telemetry;
using Microsoft.EntityFrameworkCore;
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
/// Appends run outside the loop (serialised by their own gate) so acknowledgements never wait for learning
/// (TenantActor.Appends.cs); checkpoints and rollback are in TenantActor.Checkpoints.cs, the guard rails'
/// freeze and resume in TenantActor.Freeze.cs, and restoring a checkpoint in <see cref="CheckpointRestore"/>.
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
    StepCounters _counters = StepCounters.None;
    long _checkpointVersion, _nextCheckpointVersion;
    long _stepsSinceCheckpoint;
    DateTime _lastCheckpointUtc = DateTime.UtcNow;
    bool _warmupPending;
    long _logEntries; // rows of this tenant's log (accepted, not yet compacted away): what quotas.maxLogEntries caps
    readonly TenantGauges _gauges;
    readonly TenantFreeze _freeze;
    readonly CheckpointRestore _restore;

    TenantActor(TenantServices services, TenantSettings settings)
    {
        _s = services;
        _settings = settings;
        _gauges = services.Metrics.Track(settings.TenantId, () => _pending.Count);
        Predictions = new PendingPredictions(settings.TenantId, services.Db, services.Options.PredictionTtlSeconds, services.Options.MaxPendingPredictions);
        Quotas = QuotaLimits.Of(settings.Quotas, services.Options.Quotas);
        _freeze = new TenantFreeze(settings.TenantId, services);
        _restore = new CheckpointRestore(() => Settings, services, _gauges);
    }

    // Replaced whole when labels are added (TenantActor.Labels.cs).
    TenantSettings _settings;

    public TenantSettings Settings => Volatile.Read(ref _settings);
    /// <summary>The quotas in force: the tenant's own, else the server's defaults.</summary>
    public QuotaLimits Quotas { get; }
    /// <summary>The predictions kept for feedback.</summary>
    public PendingPredictions Predictions { get; }
    public string TenantId => Settings.TenantId;
    /// <summary>What an example or input must look like for this tenant (its labels and input modality), and its quotas.</summary>
    public TenantSchema Schema => new(Settings.Labels,
        _model.Modality == Engine.Models.Modality.Text ? InputModality.Text : InputModality.Image, Quotas);
    /// <summary>Estimated memory this tenant holds while resident (the base model is shared and not counted).</summary>
    public long ResidentBytes => TenantFootprint.Of(Settings, _adapter.Layout);

    /// <summary>One consistent reading of the step counters.</summary>
    StepCounters Counters => Volatile.Read(ref _counters);

    public TenantStatus Status => new(
        Interlocked.Read(ref _nextSequence) - 1,
        Counters.Applied,
        Counters.Rejected,
        Counters.Correct,
        Counters.LastApplied,
        Interlocked.Read(ref _checkpointVersion),
        _pending.Count);

    /// <summary>The tenant's settings and counters as the APIs answer them.</summary>
    public TenantResponse Describe()
    {
        var s = Settings;
        var status = Status;
        return new TenantResponse
        {
            TenantId = s.TenantId, Preset = s.Preset, ModelSha256 = s.ModelSha256, Labels = s.Labels, Optimizer = s.Optimizer,
            Lora = new LoraSettings { Rank = s.LoraOptions.Rank, Alpha = s.LoraOptions.Alpha, Targets = s.Lora.Targets ?? _model.DefaultTargets },
            Filter = s.DescribedFilter,
            ExamplesAccepted = status.ExamplesAccepted, ExamplesApplied = status.ExamplesApplied, ExamplesRejected = status.ExamplesRejected,
            OnlineAccuracy = status.OnlineAccuracy, CheckpointVersion = status.CheckpointVersion,
            LastAppliedSequence = status.LastAppliedSequence, QueueDepth = status.QueueDepth, Seed = s.Seed,
            CreatedUtc = new DateTimeOffset(DateTime.SpecifyKind(s.CreatedUtc, DateTimeKind.Utc)),
            Quotas = Quotas.Describe(), LogEntries = Interlocked.Read(ref _logEntries), Frozen = _freeze.Frozen, Events = _freeze.Events,
            HeadLabels = _adapter.Layout.Outputs,
        };
    }

    // ---------------------------------------------------------------- activation

    /// <summary>
    /// Loads the tenant: its latest checkpoint (or a fresh adapter), then queues every later log entry for replay. A
    /// checkpoint that cannot be used gives way to an older one (<see cref="CheckpointRestore"/>), and the log replays
    /// from there. A metadata store that cannot be read is <see cref="StorageUnavailableException"/>.
    /// </summary>
    public static async Task<TenantActor> ActivateAsync(string tenantId, TenantServices s, CancellationToken ct)
    {
        TenantRecord record;
        long maxSequence, logEntries;
        try
        {
            await using var db = await s.Db.CreateDbContextAsync(ct);
            record = await db.Tenants.AsNoTracking().SingleOrDefaultAsync(t => t.TenantId == tenantId, ct)
                     ?? throw new TenantNotFoundException(tenantId);
            // Compaction may have deleted every log entry: checkpoints and idempotency keys remember sequences too.
            maxSequence = Math.Max(
                await db.Examples.Where(x => x.TenantId == tenantId).MaxAsync(x => (long?)x.Sequence, ct) ?? 0,
                Math.Max(
                    await db.Checkpoints.Where(c => c.TenantId == tenantId).MaxAsync(c => (long?)c.LastAppliedSequence, ct) ?? 0,
                    await db.ExampleIds.Where(x => x.TenantId == tenantId).MaxAsync(x => (long?)x.Sequence, ct) ?? 0));
            logEntries = await db.Examples.LongCountAsync(x => x.TenantId == tenantId, ct);
        }
        catch (Exception e) when (StorageFaults.IsStorageFault(e))
        {
            throw NotLoadable(tenantId, s, e);
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
            actor._model = await s.Models.ForTenantAsync(tenantId, record.Preset, record.ModelSha256);
            try
            {
                var restored = await actor._restore.RestoreAsync(actor._model, record.CheckpointVersion, ct);
                await actor.InstallAsync(restored);
                await actor._freeze.LoadAsync(record, ct);
                actor._freeze.Monitor.Reset(restored.FromSequence);
                // A frozen tenant learns nothing until it is resumed (the resume replays its log), except the steps
                // up to its checkpoint when that had to be rebuilt from an older one.
                if (actor._freeze.Frozen) await actor.CatchUpAsync(restored, ct);
                else await actor.QueueReplayAsync(restored.FromSequence, ct);
                // Additions the restored state lacks and that come before its replay: grown before the first command.
                await actor.GrowDueAsync();
            }
            catch (Exception e) when (StorageFaults.IsStorageFault(e))
            {
                throw NotLoadable(tenantId, s, e);
            }
        }
        catch
        {
            if (actor._optimizer is not null) await s.Compute.Run(() => actor.Dispose());
            s.Metrics.Untrack(tenantId, actor._gauges);
            throw;
        }
        actor._loop = Task.Run(actor.RunAsync, CancellationToken.None);
        s.Logger.LogInformation("Activated tenant {Tenant}: checkpoint v{Version}, {Replay} log entries to replay{Frozen}",
            tenantId, record.CheckpointVersion, actor._pending.Count, actor._freeze.Frozen ? " (frozen)" : "");
        return actor;
    }

    static StorageUnavailableException NotLoadable(string tenantId, TenantServices s, Exception e)
    {
        s.Logger.LogWarning(e, "Tenant {Tenant}: cannot be loaded: the metadata store does not answer", tenantId);
        return new StorageUnavailableException($"tenant '{tenantId}' cannot be loaded now: the metadata store does not answer; retry later",
            TimeSpan.FromSeconds(s.Options.StorageRetrySeconds));
    }

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

    /// <summary>
    /// Makes <paramref name="restored"/> the tenant's state (disposing the one it replaces) with the counters of the
    /// checkpoint it was loaded from, or of the initial state.
    /// </summary>
    async Task InstallAsync(RestoredState restored)
    {
        await _s.Compute.Run(() =>
        {
            _optimizer?.Dispose();
            _adapter?.Dispose();
            _adapter = restored.Adapter;
            _optimizer = restored.Optimizer;
        });
        if (restored.From is { } checkpoint) RestoreCounters(checkpoint);
        else ResetCounters();
    }

    /// <summary>
    /// After a restore that loaded an older checkpoint than its target: learns the logged steps between the two, so the
    /// state is the target's (replay is deterministic). The steps' own outcomes do not count for the guard rails.
    /// </summary>
    async Task CatchUpAsync(RestoredState restored, CancellationToken ct)
    {
        if (restored.Target is not { } target || restored.From?.Version == target.Version) return;
        foreach (var step in await ReadLogAsync(restored.FromSequence, target.LastAppliedSequence, ct))
        {
            await GrowBeforeAsync(step.Sequence);
            await _s.Compute.Run(() => Step(step));
        }
        await GrowToAsync(target.LabelCount ?? Settings.InitialLabelCount);
        _stepsSinceCheckpoint = 0;
        _freeze.Monitor.Reset(target.LastAppliedSequence);
    }

    void RestoreCounters(CheckpointRecord c)
    {
        Volatile.Write(ref _counters, new StepCounters(c.LastAppliedSequence, c.ExamplesApplied, c.ExamplesRejected, c.Correct));
        _stepsSinceCheckpoint = 0;
        _warmupPending = false;
        _lastCheckpointUtc = DateTime.UtcNow;
    }

    /// <summary>The counters of the initial state.</summary>
    void ResetCounters()
    {
        Volatile.Write(ref _counters, StepCounters.None);
        _stepsSinceCheckpoint = 0;
        _warmupPending = false;
        _lastCheckpointUtc = DateTime.UtcNow;
    }

    /// <summary>Compute thread.</summary>
    void Dispose()
    {
        _optimizer.Dispose();
        _adapter.Dispose();
    }

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
                await GrowDueAsync();
                if (!_freeze.Frozen && _pending.TryPeek(out var next))
                {
                    await _s.Compute.Run(() => Step(next));
                    _pending.TryDequeue(out _);
                    SignalRoom();
                    if (_freeze.Monitor.Tripped is not null) continue; // no checkpoint of a state past the drop
                    if (_stepsSinceCheckpoint >= _s.Options.CheckpointEverySteps && !_warmupPending && !CheckpointRetryWaits)
                        await TryCheckpointAsync();
                    continue;
                }
                var interval = TimeSpan.FromSeconds(_s.Options.CheckpointEverySeconds);
                var due = NextCheckpointUtc(interval) - DateTime.UtcNow;
                if (_stepsSinceCheckpoint > 0 && !_warmupPending && due <= TimeSpan.Zero)
                {
                    await TryCheckpointAsync();
                    continue;
                }
                var wait = _stepsSinceCheckpoint > 0 && due > TimeSpan.Zero ? due : interval;
                await Task.WhenAny(_wake.Reader.WaitToReadAsync(ct).AsTask(), Task.Delay(wait, ct));
                _wake.Reader.TryRead(out _);
            }
            catch (Exception e)
            {
                // The log still holds every acknowledged example; the next round tries again.
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
        bool applied = false, correct = false;
        try
        {
            var input = step.Payload.ToModelInput();
            var targets = tensor(new long[] { step.LabelIndex });
            // The forward closure encodes from the managed input each time: the filter may call it again
            // later (bounded-P₀ warm-up replays), after this step's dispose scope has ended.
            using var outcome = _optimizer.Step(_model.Pass([input], _adapter), targets);
            long predicted = step.Shown?.LabelIndex ?? outcome.Predictions.argmax(1).item<long>();
            double loss = step.Shown?.Loss ?? outcome.Loss;
            applied = outcome.Status != StepStatus.Rejected;
            correct = predicted == step.LabelIndex;
            if (!applied)
                _s.Logger.LogWarning("Tenant {Tenant}: example {Sequence} rejected: {Reason}", TenantId, step.Sequence, outcome.Reason);
            _warmupPending = outcome.Status == StepStatus.Deferred;
            _freeze.Monitor.Observe(step.Sequence, correct, outcome.GuardEvent);
            _s.Metrics.Stepped(_gauges, clock.Elapsed, applied, correct,
                loss, outcome.InnovationNorm, outcome.NoiseTrace, outcome.MeanCovariance, outcome.GuardEvent);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A poison example must not stall the tenant: it is counted as rejected and the log moves on.
            applied = false;
            _s.Metrics.Rejected(_gauges);
            _s.Logger.LogWarning(e, "Tenant {Tenant}: example {Sequence} could not be learned", TenantId, step.Sequence);
        }
        Volatile.Write(ref _counters, _counters.After(step.Sequence, applied, correct));
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
            return (p, Counters.LastApplied);
        });
        int best = Array.IndexOf(probabilities, probabilities.Max());
        var map = new Dictionary<string, double>(Settings.Labels.Count);
        for (int i = 0; i < probabilities.Length; i++) map[Settings.Labels[i]] = probabilities[i];
        string? predictionId = null;
        try
        {
            predictionId = await Predictions.AddAsync(payload, best, probabilities, version);
        }
        catch (Exception e) when (StorageFaults.IsStorageFault(e))
        {
            // The prediction is still worth answering; without a predictionId it promises nothing the store cannot keep.
            _s.Metrics.StorageFailed(_gauges, "prediction");
            _s.Logger.LogWarning(e, "Tenant {Tenant}: the prediction is answered without a predictionId: the metadata store cannot keep it", TenantId);
        }
        return new PredictionResult(Settings.Labels[best], map, version, predictionId);
    }

    /// <summary>The label of a kept prediction, appended once as an example (see <see cref="PendingPredictions.FeedbackAsync"/>).</summary>
    public Task<AppendOutcome> FeedbackAsync(string predictionId, string label, int labelIndex, CancellationToken ct) =>
        Predictions.FeedbackAsync(predictionId, label, labelIndex, examples => AppendAsync(examples, waitForRoom: false, ct), ct);


    /// <summary>The adapter as safetensors: θ, each LoRA piece and the head by name, and how to read them.</summary>
    public Task<AdapterFile> ExportAsync() => Enqueue(async () =>
    {
        long version = Counters.LastApplied;
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
                ["labels"] = JsonSerializer.Serialize(Settings.Labels.Take(_adapter.Layout.Outputs)),
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
        await _s.Compute.Run(Dispose);
    }
}
