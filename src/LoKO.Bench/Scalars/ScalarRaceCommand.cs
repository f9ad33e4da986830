using System.Text.Json;
using LoKO.Bench.Online;
using LoKO.Engine.Platform;
using TorchSharp;
using static TorchSharp.torch;

namespace LoKO.Bench.Scalars;

/// <summary>
/// `scalars`: why <see cref="HeldScalars"/> exists, measured. One thread adds two tensors for S seconds while another
/// allocates and collects; the adds run once with TorchSharp's operator (its alpha = 1 a temporary Scalar) and once
/// with a held one. A GC during the native call frees the temporary under LibTorch, which then fails the add
/// ("Expected false to be true … toFloat") or reads whatever the memory holds.
/// </summary>
public static class ScalarRaceCommand
{
    public const string Usage = "scalars [--seconds 20] [--size 65536]";

    public static int Run(BenchArgs args)
    {
        args.Allow("seconds", "size");
        int seconds = args.Int("seconds", 20), size = args.Int("size", 65536);
        if (seconds < 1 || size < 1) throw new ArgumentException("--seconds and --size must be positive");
        set_num_threads(1);
        var rows = new[] { Race("temporary (a + b)", (a, b) => a + b, seconds, size), Race("held (a.Plus(b))", (a, b) => a.Plus(b), seconds, size) };
        foreach (var r in rows) Console.Error.WriteLine($"scalars: {r.Mode}: {r.Adds:N0} adds, {r.Failed} failed, {r.Collections:N0} collections");
        Console.WriteLine(JsonSerializer.Serialize(new { command = "scalars", seconds, size, runs = rows }, Format.Json));
        return 0;
    }

    public sealed record RaceResult(string Mode, long Adds, long Failed, int Collections, string? FirstError);

    /// <summary>
    /// Adds for at most <paramref name="seconds"/> under a collecting thread, stopping early after
    /// <paramref name="maxAdds"/> adds or <paramref name="stopAfterFailures"/> failures; the caller sets LibTorch's threads.
    /// </summary>
    public static RaceResult Race(string mode, Func<Tensor, Tensor, Tensor> add, int seconds, int size, long maxAdds = long.MaxValue, long stopAfterFailures = long.MaxValue)
    {
        using var a = randn(size);
        using var b = randn(size);
        var stop = DateTime.UtcNow.AddSeconds(seconds);
        int before = GC.CollectionCount(0);
        bool done = false;
        var collector = new Thread(() =>
        {
            while (!Volatile.Read(ref done))
            {
                var garbage = new object[1000];
                for (int i = 0; i < garbage.Length; i++) garbage[i] = new byte[64];
                GC.Collect(0); // the temporaries are young: a gen-0 collection finds them, and stays cheap in a large heap
                GC.WaitForPendingFinalizers();
            }
        }) { IsBackground = true };
        collector.Start();
        long adds = 0, failed = 0;
        string? first = null;
        while (DateTime.UtcNow < stop && adds + failed < maxAdds && failed < stopAfterFailures)
        {
            try
            {
                using var sum = add(a, b);
                adds++;
            }
            catch (Exception e)
            {
                failed++;
                first ??= e.Message.Split('\n')[0];
            }
        }
        Volatile.Write(ref done, true);
        collector.Join();
        return new RaceResult(mode, adds, failed, GC.CollectionCount(0) - before, first);
    }
}
