using System.Diagnostics;
using LoKO.Engine.Batching;
using LoKO.Server.Telemetry;
using static TorchSharp.torch;

namespace LoKO.Server.Compute;

/// <summary>
/// Gathers the ready learning steps of many tenants and runs those of one base model as one
/// <see cref="TenantBatch"/>. A step waits at most <see cref="BatchTenantsOptions.MaxWaitMs"/> (less when
/// <see cref="BatchTenantsOptions.MaxTenants"/> are ready); a batch takes the steps pending when a compute thread
/// starts it, so steps that became ready while the threads were busy join it. Each tenant has at most one step
/// pending (its learner awaits each), so every tenant's steps still run one at a time, in its sequence order.
/// </summary>
sealed class LearnBatcher : IDisposable
{
    readonly object _gate = new();
    readonly List<LearnRequest> _pending = [];
    readonly Action<Action> _post;
    readonly BatchMetrics _metrics;
    readonly int _maxTenants;
    readonly long _maxWaitMs;
    readonly Timer _timer;
    int _queued; // batches posted to the compute threads and not yet started
    bool _armed;

    public LearnBatcher(BatchTenantsOptions options, BatchMetrics metrics, Action<Action> post)
    {
        _post = post;
        _metrics = metrics;
        _maxTenants = options.MaxTenants;
        _maxWaitMs = (long)Math.Ceiling(options.MaxWaitMs);
        _timer = new Timer(_ => { lock (_gate) { _armed = false; Arrange(); } });
    }

    public Task Add(LearnRequest request)
    {
        lock (_gate)
        {
            _pending.Add(request);
            Arrange();
        }
        return request.Completion;
    }

    /// <summary>Under the gate: posts a batch when one is due and none is queued already, else arms the timer for the oldest step.</summary>
    void Arrange()
    {
        if (_pending.Count == 0 || _queued > 0) return;
        long waited = Environment.TickCount64 - _pending[0].QueuedTicks;
        if (_pending.Count >= _maxTenants || waited >= _maxWaitMs)
        {
            _queued++;
            try { _post(RunBatch); }
            catch (InvalidOperationException e)
            {
                // The executor is shutting down: nothing will run these.
                _queued--;
                foreach (var r in _pending) r.Fail(e);
                _pending.Clear();
            }
        }
        else if (!_armed)
        {
            _armed = true;
            _timer.Change(TimeSpan.FromMilliseconds(Math.Max(1, _maxWaitMs - waited)), Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Compute thread: the oldest pending step's model, up to the maximum of its steps, as one batch.</summary>
    void RunBatch()
    {
        List<LearnRequest> batch;
        lock (_gate)
        {
            _queued--;
            var model = _pending[0].Model;
            batch = [.. _pending.Where(r => ReferenceEquals(r.Model, model)).Take(_maxTenants)];
            foreach (var r in batch) _pending.Remove(r);
            Arrange();
        }
        Run(batch);
    }

    void Run(List<LearnRequest> batch)
    {
        using var scope = NewDisposeScope();
        var clock = Stopwatch.StartNew();
        var ready = new List<(LearnRequest Request, TenantStep Step)>();
        foreach (var r in batch)
        {
            try { ready.Add((r, r.Prepare())); }
            catch (Exception e) when (e is not OutOfMemoryException) { r.Finish(new TenantStepResult(null, e, false), clock.Elapsed); }
        }
        if (ready.Count == 0) return;
        IReadOnlyList<TenantStepResult> results;
        try
        {
            results = TenantBatch.Step(ready[0].Request.Model, [.. ready.Select(r => r.Step)]);
        }
        catch (Exception e)
        {
            // Only a malformed batch throws (a tenant twice, another model): no step of it ran.
            foreach (var r in ready) r.Request.Fail(e);
            return;
        }
        _metrics.Ran(ready.Count, results.Count(r => r.SharedPass));
        // Each step counts its share of the batch's time.
        var share = clock.Elapsed / ready.Count;
        for (int i = 0; i < ready.Count; i++) ready[i].Request.Finish(results[i], share);
    }

    public void Dispose() => _timer.Dispose();
}
