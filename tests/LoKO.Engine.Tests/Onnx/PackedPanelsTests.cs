using LoKO.Engine.Onnx;
using LoKO.Engine.Onnx.Fusion;
using Xunit.Abstractions;
using static TorchSharp.torch;
using static LoKO.Engine.Tests.Models.PlanRuns;

namespace LoKO.Engine.Tests.Onnx;

/// <summary>
/// A packed weight in column panels gives linear's product for any panel count and any thread count (panels
/// handed to helper threads write only their own columns), and helper threads run every block exactly once, for
/// several callers at once, passing a block's failure back to its caller once none of its blocks still runs.
/// </summary>
public class PackedPanelsTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 2)]
    [InlineData(5, 4)]
    public void EveryPanelCountAndThreadCountGivesLinearsProduct(int panels, int threads)
    {
        using var scope = NewDisposeScope();
        // 200 columns: panels of 16-column steps and a narrower last one.
        var w = randn(96, 200, generator: new Generator(11));
        var b = randn(200, generator: new Generator(12));
        var x = randn(3, 40, 96, generator: new Generator(13));
        using var packed = PackedWeight.Pack(w, panels);
        Assert.Equal(panels, packed.Panels);
        using var _ = no_grad();
        var y = packed.Linear(x, b, threads);
        AssertCloseToScale(output, y, nn.functional.linear(x, w.t(), b), 1e-5, $"{panels} panels on {threads} threads");
    }

    [Fact]
    public void AProductTooSmallToHandOutStillGivesLinearsProduct()
    {
        using var scope = NewDisposeScope();
        var w = randn(16, 48, generator: new Generator(14));
        var b = randn(48, generator: new Generator(15));
        var x = randn(1, 16, generator: new Generator(16));
        Assert.True(16L * 48 < StepThreads.ParallelPackedMultiplyAdds);
        using var packed = PackedWeight.Pack(w, 3);
        using var _ = no_grad();
        AssertCloseToScale(output, packed.Linear(x, b, 4), nn.functional.linear(x, w.t(), b), 1e-5, "one row, three panels");
    }

    [Fact]
    public void HelpersRunEveryBlockOnceForSeveralCallersAtOnce()
    {
        const int Callers = 4, Calls = 200, Blocks = 5;
        var counts = new int[Callers, Calls, Blocks];
        var threads = Enumerable.Range(0, Callers).Select(c => new Thread(() =>
        {
            for (int call = 0; call < Calls; call++)
                BlockWorkers.Run(Blocks, 3, b => Interlocked.Increment(ref counts[c, call, b]));
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.All(counts.Cast<int>(), n => Assert.Equal(1, n));
    }

    [Fact]
    public void ABlocksFailureReachesItsCallerOnceNoBlockRunsAnyMore()
    {
        int running = 0;
        var e = Assert.Throws<InvalidOperationException>(() => BlockWorkers.Run(4, 4, b =>
        {
            Interlocked.Increment(ref running);
            Thread.Sleep(b == 2 ? 1 : 20);
            Interlocked.Decrement(ref running);
            if (b == 2) throw new InvalidOperationException("block 2 failed");
        }));
        Assert.Equal("block 2 failed", e.Message);
        Assert.Equal(0, Volatile.Read(ref running));
        // The helpers are free again.
        int after = 0;
        BlockWorkers.Run(4, 4, _ => Interlocked.Increment(ref after));
        Assert.Equal(4, after);
    }
}
