using LoKO.Bench.Load;

namespace LoKO.Bench.Scale;

/// <summary>p50, p99 and the largest of a set of timings (ms), and how many there were.</summary>
public sealed record Spread(int Count, double P50, double P99, double Max)
{
    public static Spread Of(IReadOnlyList<double> ms) =>
        ms.Count == 0 ? new Spread(0, double.NaN, double.NaN, double.NaN) : new Spread(ms.Count, Percentile.Of(ms, 50), Percentile.Of(ms, 99), ms.Max());
}
