using LoKO.Engine.Filter;
using LoKO.Engine.Optimizers;
using static TorchSharp.torch;

namespace LoKO.Engine.Tests.Filter;

public class DivergenceGuardTests
{
    /// <summary>P₀ = 1, R₀ = 0.001, β = 0.5: far too trusting of each example. Unguarded, this collapses to chance.</summary>
    static LokoOptions Aggressive(bool guard) => new()
    {
        P0 = InitialCovariance.Constant, P0Constant = 1.0, R0 = 0.001, Beta = 0.5,
        Guard = new GuardOptions { Enabled = guard },
    };

    static (double[] Windows, long Events) Run(bool guard)
    {
        var model = new TinyMlp(classes: 10);
        using var theta = model.NewTheta(seed: 2);
        using var filter = new LokoFilter(theta, Aggressive(guard));
        var correct = new List<double>();
        foreach (var (x, label) in TinyMlp.Stream(10, 900, seed: 4))
        {
            using var o = filter.Step(() => model.Forward(theta, x), tensor(new long[] { label }));
            correct.Add(o.Predictions.argmax(1).item<long>() == label ? 1 : 0);
        }
        double[] windows = [.. Enumerable.Range(0, correct.Count - 99).Select(i => correct.Skip(i).Take(100).Average())];
        return (windows, filter.State.GuardEvents);
    }

    [Fact]
    public void GuardKeepsAnAggressiveFilterFromCollapsing()
    {
        var (unguarded, none) = Run(guard: false);
        Assert.Equal(0, none);
        // The setting really does diverge: without the guard the last 300 examples are near chance (10 %).
        Assert.True(unguarded[^1] < 0.2 && unguarded.Skip(unguarded.Length - 200).Average() < 0.2,
            $"expected the unguarded filter to collapse, last window {unguarded[^1]:F2}");

        var (guarded, events) = Run(guard: true);
        Assert.True(events >= 1, "the guard should have detected the divergence");
        double best = guarded.Max(), last = guarded[^1];
        Assert.True(last >= 0.9 * best, $"guarded filter collapsed: last window {last:F2}, best {best:F2}");
        Assert.True(last >= 0.4, $"guarded filter should learn: last window {last:F2}");
    }
}
