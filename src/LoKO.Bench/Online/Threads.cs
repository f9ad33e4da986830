using static TorchSharp.torch;

namespace LoKO.Bench.Online;

static class Threads
{
    /// <summary>
    /// `--threads N` sets TorchSharp's intra-op thread count (default: the library's own choice). On a machine
    /// other jobs share, fewer threads than cores avoids the heavy slow-down of oversubscribed parallel ops.
    /// </summary>
    public static void Apply(BenchArgs args)
    {
        if (args.IntOrNull("threads") is { } n) set_num_threads(n);
    }
}
