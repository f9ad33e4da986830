namespace LoKO.Engine.Data;

/// <summary>Deterministic orders for streaming a data set as an online learner sees it.</summary>
public static class StreamOrder
{
    /// <summary>
    /// A seeded Fisher–Yates shuffle into a new list; the same items and seed always give the
    /// same order (on every platform and .NET version: the generator is spelled out here).
    /// </summary>
    public static IReadOnlyList<T> Shuffle<T>(IReadOnlyList<T> items, int seed)
    {
        ArgumentNullException.ThrowIfNull(items);
        var result = items.ToArray();
        var state = (ulong)(uint)seed ^ 0x9E3779B97F4A7C15UL;
        for (var i = result.Length - 1; i > 0; i--)
        {
            var j = (int)(NextUInt64(ref state) % (ulong)(i + 1));
            (result[i], result[j]) = (result[j], result[i]);
        }
        return result;
    }

    // SplitMix64: tiny, fast, and well mixed even for neighbouring seeds.
    private static ulong NextUInt64(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
