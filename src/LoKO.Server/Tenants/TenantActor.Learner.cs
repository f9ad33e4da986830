using System.Diagnostics;
using LoKO.Engine.Batching;
using LoKO.Engine.Optimizers;
using static TorchSharp.torch;

namespace LoKO.Server.Tenants;

/// <summary>The learner: the loop that takes logged examples in sequence order, one prequential step at a time, and runs the commands queued between steps.</summary>
public sealed partial class TenantActor
{
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
                    await LearnAsync(next);
                    _pending.TryDequeue(out _);
                    SignalRoom();
                    if (_freeze.Monitor.Tripped is not null) continue; // no checkpoint of a state past the drop
                    if (_stepsSinceCheckpoint >= _s.Options.CheckpointEverySteps && !_warmupPending && !CheckpointRetryWaits)
                        await TryCheckpointAsync();
                    continue;
                }
                var interval = TimeSpan.FromSeconds(_s.Options.CheckpointEverySeconds);
                var due = NextCheckpointUtc(interval) - DateTime.UtcNow;
                // Idle: a write-back asked for now is due now (after a failed checkpoint, its back-off still holds).
                bool writeBack = TakeWriteBack() && !CheckpointRetryWaits;
                if (_stepsSinceCheckpoint > 0 && !_warmupPending && (due <= TimeSpan.Zero || writeBack))
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

    /// <summary>The next logged example's step: batched with other tenants' steps when LoKO:BatchTenants is on, else alone.</summary>
    Task LearnAsync(PendingStep next) => _s.Compute.BatchesTenants
        ? _s.Compute.Learn(_model, () => Prepare(next), (result, elapsed) => Record(next, result, elapsed))
        : _s.Compute.Run(() => Step(next));

    /// <summary>
    /// Compute thread: one prequential step — predict, then learn — for one logged example. Feedback on a prediction
    /// is scored by what that prediction showed (<see cref="PendingStep.Shown"/>), the outcome its user saw.
    /// </summary>
    void Step(PendingStep step)
    {
        using var scope = NewDisposeScope();
        var clock = Stopwatch.StartNew();
        TenantStepResult result;
        try
        {
            var prepared = Prepare(step);
            // The forward closure encodes from the managed input each time: the filter may call it again
            // later (bounded-P₀ warm-up replays), after this step's dispose scope has ended.
            result = new(_optimizer.Step(_model.Pass([prepared.Input], _adapter), prepared.Targets), null, false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            result = new(null, e, false);
        }
        Record(step, result, clock.Elapsed);
    }

    /// <summary>Compute thread: the step of one logged example, to run alone or in a batch of tenants.</summary>
    TenantStep Prepare(PendingStep step) =>
        new(_adapter, _optimizer, step.Payload.ToModelInput(), tensor(new long[] { step.LabelIndex }));

    /// <summary>Compute thread: the counters, metrics and guard rails after a step (alone or batched); disposes its outcome.</summary>
    void Record(PendingStep step, TenantStepResult result, TimeSpan elapsed)
    {
        bool applied = false, correct = false;
        try
        {
            using var outcome = result.Outcome ?? throw result.Error!;
            long predicted = step.Shown?.LabelIndex ?? outcome.Predictions.argmax(1).item<long>();
            double loss = step.Shown?.Loss ?? outcome.Loss;
            applied = outcome.Status != StepStatus.Rejected;
            correct = predicted == step.LabelIndex;
            if (!applied)
                _s.Logger.LogWarning("Tenant {Tenant}: example {Sequence} rejected: {Reason}", TenantId, step.Sequence, outcome.Reason);
            _warmupPending = outcome.Status == StepStatus.Deferred;
            _freeze.Monitor.Observe(step.Sequence, correct, outcome.GuardEvent);
            _s.Metrics.Stepped(_gauges, elapsed, applied, correct,
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

    void SignalRoom() => Interlocked.Exchange(ref _room, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    void Wake() => _wake.Writer.TryWrite(true);
}
