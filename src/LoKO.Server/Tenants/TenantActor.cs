using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.Channels;
using LoKO.Contracts.Rest;
using LoKO.Contracts.Validation;
using LoKO.Engine.Lora;
using LoKO.Engine.Models;
using LoKO.Engine.Optimizers;
using LoKO.Server.Compute;
using LoKO.Server.Telemetry;

namespace LoKO.Server.Tenants;

/// <summary>
/// One tenant, one actor: a single loop owns the adapter and optimizer and does everything that reads or
/// changes them — learning steps in sequence order, predictions, checkpoints, rollback — one at a time.
/// Numeric work is handed to the <see cref="ComputeExecutor"/>; the loop itself only awaits.
/// One concept a file, in the order of ARCHITECTURE.md's data flow: activation (TenantActor.Activation.cs), the log —
/// appends outside the loop, under their own gate, so acknowledgements never wait for learning; idempotency; replay —
/// (TenantActor.Log.cs), the epoch that fences a stale activation (TenantActor.Fencing.cs), the learner loop
/// (TenantActor.Learner.cs), predictions and export (TenantActor.Commands.cs), checkpoints and compaction
/// (TenantActor.Checkpoints.cs), rollback (TenantActor.Rollback.cs), label additions (TenantActor.Labels.cs), the
/// guard rails' freeze and resume (TenantActor.Freeze.cs); restoring a checkpoint is <see cref="CheckpointRestore"/>.
/// This file: the actor's state, its description, and shutdown.
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
            HeadLabels = _adapter.Layout.Outputs, Device = new Engine.Platform.TorchDevice(_model.Device).Name,
        };
    }

    /// <summary>Stops the loop after the current step; with <paramref name="checkpoint"/>, saves what was learned since the last checkpoint.</summary>
    public async Task StopAsync(bool checkpoint)
    {
        var clock = PhaseClock.ForDebug(_s.Logger);
        await _appendGate.WaitAsync();
        try
        {
            _stop.Cancel();
            _commands.Writer.TryComplete();
        }
        finally { _appendGate.Release(); }
        await _loop;
        while (_commands.Reader.TryRead(out var command)) await command();
        clock?.Mark("loop stopped");
        if (checkpoint && _stepsSinceCheckpoint > 0 && !_warmupPending && !IsFenced)
        {
            try { await CheckpointCoreAsync(); }
            catch (Exception e) { _s.Logger.LogError(e, "Tenant {Tenant}: checkpoint at shutdown failed; the log replays on restart", TenantId); }
            clock?.Mark("checkpoint");
        }
        _s.Metrics.Untrack(TenantId, _gauges);
        // Its memory counts against the resident budget until freed: ahead of the other tenants' queued steps.
        await _s.Compute.RunPromptly(Dispose);
        clock?.Mark("disposed");
        if (clock is not null) _s.Logger.LogDebug("Tenant {Tenant}: stop took {Ms:F1} ms: {Phases}", TenantId, clock.TotalMs, clock);
    }

    /// <summary>A write the store refused: counted, logged with its cause, and answered 503 / UNAVAILABLE with Retry-After.</summary>
    StorageUnavailableException Unavailable(string operation, Exception cause, string what)
    {
        _s.Metrics.StorageFailed(_gauges, operation);
        _s.Logger.LogWarning(cause, "Tenant {Tenant}: {What}", TenantId, what);
        var retry = TimeSpan.FromSeconds(_s.Options.StorageRetrySeconds);
        return new StorageUnavailableException($"tenant '{TenantId}': {what}: the metadata store or data directory refused the write; " +
                                               $"retry in {Math.Ceiling(retry.TotalSeconds).ToString(CultureInfo.InvariantCulture)} s", retry);
    }
}
