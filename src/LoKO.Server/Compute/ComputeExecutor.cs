using System.Collections.Concurrent;
using LoKO.Engine.Batching;
using LoKO.Engine.Models;
using LoKO.Server.Hosting;
using LoKO.Server.Telemetry;
using Microsoft.Extensions.Options;
using TorchSharp;

namespace LoKO.Server.Compute;

/// <summary>
/// A fixed set of dedicated threads that run every TorchSharp computation, so numeric work never blocks
/// ASP.NET request threads or the thread pool, and TorchSharp's thread-static dispose scopes stay on one
/// thread for a whole unit of work (work items are synchronous: no await inside). The one exception is encoding a
/// checkpoint's <see cref="Engine.Checkpoints.StateSnapshot"/>: a copy nothing else reads, so its bytes go into the
/// file off these threads. With LoKO:BatchTenants on, the
/// learning steps of several tenants of one base model run as one batch (<see cref="LearnBatcher"/>).
/// </summary>
public sealed class ComputeExecutor : IDisposable
{
    readonly BlockingCollection<Action> _queue = new();
    // Taken before _queue: work that frees memory, which must not wait behind every tenant's queued steps.
    readonly BlockingCollection<Action> _prompt = new();
    readonly Thread[] _threads;
    readonly LearnBatcher? _batcher;
    readonly BatchMetrics _batchMetrics;

    public ComputeExecutor(IOptions<LoKOOptions> options, BatchMetrics batchMetrics)
    {
        _batchMetrics = batchMetrics;
        var o = options.Value;
        o.BatchTenants.Validate();
        if (o.TorchThreads > 0) torch.set_num_threads(o.TorchThreads);
        if (o.BatchTenants.Enabled) _batcher = new LearnBatcher(o.BatchTenants, batchMetrics, _queue.Add);
        _threads = new Thread[Math.Max(1, o.ComputeThreads)];
        for (int i = 0; i < _threads.Length; i++)
        {
            _threads[i] = new Thread(Loop) { IsBackground = true, Name = $"loko-compute-{i}" };
            _threads[i].Start();
        }
    }

    public int Threads => _threads.Length;

    public Task<T> Run<T>(Func<T> work)
    {
        // Continuations must not run on a compute thread.
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _queue.Add(() =>
        {
            try { done.SetResult(work()); }
            catch (Exception e) { done.SetException(e); }
        });
        return done.Task;
    }

    public Task Run(Action work) => Run<bool>(() => { work(); return true; });

    /// <summary>
    /// <paramref name="work"/> ahead of the work already queued (after the item running now): for disposing a departing
    /// tenant's state, whose memory still counts against the resident budget until it is freed. Keep it short.
    /// </summary>
    public Task RunPromptly(Action work)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _prompt.Add(() =>
        {
            try
            {
                work();
                done.SetResult();
            }
            catch (Exception e) { done.SetException(e); }
        });
        return done.Task;
    }

    /// <summary>Whether learning steps batch across tenants (<see cref="Learn"/>); off, the caller runs its steps with <see cref="Run(Action)"/>.</summary>
    public bool BatchesTenants => _batcher is not null;

    /// <summary>Batches of learning steps run so far, and the steps of them that shared one forward and reverse pass.</summary>
    public (long Batches, long SharedSteps) BatchCounts => _batchMetrics.Counts;

    /// <summary>
    /// One tenant's learning step, run in a batch with other tenants' steps of <paramref name="model"/>: on a compute
    /// thread, <paramref name="prepare"/> builds it and <paramref name="finish"/> records its result (with its share
    /// of the batch's time). The caller awaits each step before its next, so its steps keep their order.
    /// </summary>
    public Task Learn(BaseModel model, Func<TenantStep> prepare, Action<TenantStepResult, TimeSpan> finish)
    {
        if (_batcher is null) throw new InvalidOperationException("LoKO:BatchTenants is off: run the step with Run");
        return _batcher.Add(new LearnRequest(model, prepare, finish));
    }

    void Loop()
    {
        BlockingCollection<Action>[] queues = [_prompt, _queue];
        while (true)
        {
            Action? item;
            try
            {
                // Tries the queues in order: prompt work first.
                BlockingCollection<Action>.TakeFromAny(queues, out item);
            }
            catch (ArgumentException)
            {
                // Shutting down (a queue is marked complete): what was queued still runs, as before.
                while (_prompt.TryTake(out var prompt)) prompt();
                while (_queue.TryTake(out var queued)) queued();
                return;
            }
            item!();
        }
    }

    public void Dispose()
    {
        _prompt.CompleteAdding();
        _queue.CompleteAdding();
        foreach (var t in _threads) t.Join(TimeSpan.FromSeconds(30));
        _batcher?.Dispose();
        _queue.Dispose();
        _prompt.Dispose();
    }
}
