using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace LoKO.Engine.Onnx.Fusion;

/// <summary>
/// Helper threads that take blocks of a packed product (one column panel each), each block run by MKL on one thread.
/// OpenMP's sleeping workers (the policy a shared box needs, see <see cref="TorchThreading"/>) cost a wake-up per
/// product, which ate the gain of a second thread; these spin a short while after each block, yielding the core to
/// anyone who wants it, before they sleep: the next product of the same forward pass usually finds them awake.
/// A caller claims only idle helpers and runs every block no helper took itself, so callers on several threads
/// never wait on each other.
/// </summary>
internal static class BlockWorkers
{
    /// <summary>How long a helper stays awake after a block: longer than the gaps between one pass's products.</summary>
    static readonly long SpinTicks = Stopwatch.Frequency / 2000; // 0.5 ms

    static readonly Lazy<Helper[]> s_helpers = new(() =>
        [.. Enumerable.Range(0, Math.Max(0, Environment.ProcessorCount - 1)).Select(i => new Helper(i))]);

    /// <summary>Runs <paramref name="block"/>(0 … blocks − 1) on the calling thread and on up to <paramref name="threads"/> − 1 idle helpers.</summary>
    public static void Run(int blocks, int threads, Action<int> block)
    {
        var helpers = threads > 1 && blocks > 1 ? s_helpers.Value : [];
        var claimed = new List<Helper>(Math.Max(0, Math.Min(blocks, threads) - 1));
        int next = 1; // block 0 is the caller's
        foreach (var h in helpers)
        {
            if (next >= blocks || claimed.Count >= threads - 1) break;
            int index = next;
            if (!h.TryGive(() => block(index))) continue;
            claimed.Add(h);
            next++;
        }
        Exception? failure = null;
        try
        {
            block(0);
            // Blocks no idle helper took run here.
            for (; next < blocks; next++) block(next);
        }
        catch (Exception e)
        {
            failure = e;
        }
        // Every claimed helper is waited for, so none still writes into the caller's output once this returns.
        foreach (var h in claimed) failure ??= h.Join();
        if (failure is not null) ExceptionDispatchInfo.Throw(failure);
    }

    sealed class Helper
    {
        const int Idle = 0, Claimed = 1;
        int _state;
        Action? _work;
        Exception? _failure;
        readonly SemaphoreSlim _wake = new(0);
        readonly ManualResetEventSlim _done = new(false, spinCount: 1000);
        int _asleep;

        public Helper(int index)
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = $"loko-blocks-{index}" };
            thread.Start();
        }

        public bool TryGive(Action work)
        {
            if (Interlocked.CompareExchange(ref _state, Claimed, Idle) != Idle) return false;
            _done.Reset();
            // Full fences on both sides (Interlocked): the helper going to sleep sees the block, or this sees it asleep.
            Interlocked.Exchange(ref _work, work);
            if (Volatile.Read(ref _asleep) == 1) _wake.Release();
            return true;
        }

        /// <summary>Waits for the block given; what it threw, if anything.</summary>
        public Exception? Join()
        {
            _done.Wait();
            var failure = _failure;
            _failure = null;
            Volatile.Write(ref _state, Idle);
            return failure;
        }

        void Loop()
        {
            // MKL runs each block on this thread alone.
            StepThreads.Set(1);
            while (true)
            {
                var work = Interlocked.Exchange(ref _work, null);
                if (work is null)
                {
                    long until = Stopwatch.GetTimestamp() + SpinTicks;
                    // SpinWait yields the core after its first spins: a spinning helper never keeps anyone waiting.
                    var spin = new SpinWait();
                    while (Volatile.Read(ref _work) is null && Stopwatch.GetTimestamp() < until) spin.SpinOnce(sleep1Threshold: -1);
                    if (Volatile.Read(ref _work) is null)
                    {
                        Interlocked.Exchange(ref _asleep, 1);
                        // A block given between the check and the flag would be missed: look again before sleeping.
                        if (Volatile.Read(ref _work) is null) _wake.Wait();
                        Interlocked.Exchange(ref _asleep, 0);
                    }
                    continue;
                }
                try
                {
                    work();
                }
                catch (Exception e)
                {
                    _failure = e;
                }
                _done.Set();
            }
        }
    }
}
