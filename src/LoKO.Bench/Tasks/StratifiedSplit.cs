using LoKO.Engine.Data;
using LoKO.Engine.Evaluation;

namespace LoKO.Bench.Tasks;

/// <summary>Seeded, stratified held-out splits and the shuffled stream of the rest.</summary>
public static class StratifiedSplit
{
    /// <summary>
    /// Takes a held-out split from every class, either <paramref name="fraction"/> of each class (rounded) or,
    /// when <paramref name="count"/> is given, that many in all, shared out in proportion to class sizes
    /// (largest remainders first). Members are drawn from a seeded shuffle of each class. The rest is
    /// returned as the stream, shuffled with <paramref name="seed"/>.
    /// </summary>
    public static (IReadOnlyList<LabeledExample> Stream, IReadOnlyList<LabeledExample> HeldOut) Split(
        IReadOnlyList<LabeledExample> all, int? count, double fraction, int seed)
    {
        ArgumentNullException.ThrowIfNull(all);
        if (all.Count == 0) throw new ArgumentException("the data set is empty", nameof(all));
        if (count is { } c && (c < 0 || c >= all.Count))
            throw new ArgumentOutOfRangeException(nameof(count), count, $"the held-out split must leave something to stream ({all.Count} examples in all)");
        if (!(fraction >= 0 && fraction < 1)) throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "must lie in [0, 1)");

        var classes = all.GroupBy(e => e.Label).OrderBy(g => g.Key).Select(g => g.ToList()).ToList();
        var quotas = count is { } total ? Proportional(classes.Select(g => g.Count).ToArray(), total)
            : [.. classes.Select(g => (int)Math.Round(fraction * g.Count, MidpointRounding.AwayFromZero))];

        var heldOut = new List<LabeledExample>();
        var held = new HashSet<LabeledExample>(ReferenceEqualityComparer.Instance);
        for (int k = 0; k < classes.Count; k++)
        {
            var members = StreamOrder.Shuffle(classes[k], unchecked(seed * 7919 + classes[k][0].Label + 1));
            foreach (var e in members.Take(quotas[k])) { heldOut.Add(e); held.Add(e); }
        }
        var rest = all.Where(e => !held.Contains(e)).ToList();
        return (StreamOrder.Shuffle(rest, seed), heldOut);
    }

    /// <summary>Shares <paramref name="total"/> out in proportion to <paramref name="sizes"/>: floors, then largest remainders (lower index first on ties).</summary>
    public static int[] Proportional(int[] sizes, int total)
    {
        long sum = sizes.Sum(s => (long)s);
        var quotas = sizes.Select(s => (int)(total * (long)s / sum)).ToArray();
        int left = total - quotas.Sum();
        foreach (int k in Enumerable.Range(0, sizes.Length).OrderByDescending(k => total * (long)sizes[k] % sum).ThenBy(k => k).Take(left))
            quotas[k]++;
        return quotas;
    }
}
