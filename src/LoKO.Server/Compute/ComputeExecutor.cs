using System.Collections.Concurrent;
using LoKO.Server.Hosting;
using Microsoft.Extensions.Options;
using TorchSharp;

namespace LoKO.Server.Compute;

/// <summary>
/// A fixed set of dedicated threads that run every TorchSharp computation, so numeric work never blocks
/// ASP.NET request threads or the thread pool, and TorchSharp's thread-static dispose scopes stay on one
/// thread for a whole unit of work (work items are synchronous: no await inside).
/// </summary>
public sealed class ComputeExecutor : IDisposable
{
    readonly BlockingCollection<Action> _queue = new();
    readonly Thread[] _threads;

    public ComputeExecutor(IOptions<LoKOOptions> options)
    {
        var o = options.Value;
        if (o.TorchThreads > 0) torch.set_num_threads(o.TorchThreads);
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

    void Loop()
    {
        foreach (var item in _queue.GetConsumingEnumerable()) item();
    }

    public void Dispose()
    {
        _queue.CompleteAdding();
        foreach (var t in _threads) t.Join(TimeSpan.FromSeconds(30));
        _queue.Dispose();
    }
}
