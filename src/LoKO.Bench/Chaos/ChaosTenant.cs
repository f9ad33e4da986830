using LoKO.Bench.Load;

namespace LoKO.Bench.Chaos;

/// <summary>One tenant of a chaos run: how it is created (fixed seed), what it learns in which order, and where it rolls back.</summary>
public sealed record ChaosTenant(string Id, string Optimizer, long Seed, IReadOnlyList<string> Labels,
                                 IReadOnlyList<LabeledText> Examples, IReadOnlyList<RollbackCycle> Cycles)
{
    public const string Preset = "minilm-l6";
    public const int LoraRank = 2;

    public int Count => Examples.Count;
    public int RolledBack => Cycles.Sum(c => c.RolledBack);

    /// <summary>The idempotency key of example <paramref name="index"/>: the same in every run and every resend.</summary>
    public string ExampleId(int index) => $"{Id}-{index:D6}";

    /// <summary>
    /// Tenant <paramref name="index"/>: loko and adamw alternate; a rollback at a third and at two thirds of the stream,
    /// each over fewer examples than <paramref name="checkpointEvery"/> (none when the stream is too short for it).
    /// </summary>
    public static ChaosTenant Make(int index, int runSeed, IReadOnlyList<string> labels, IReadOnlyList<LabeledText> examples, int checkpointEvery)
    {
        int n = examples.Count;
        int span = Math.Clamp(n / 10, 1, checkpointEvery - 1);
        var cycles = new List<RollbackCycle>();
        foreach (int at in new[] { n / 3, 2 * n / 3 })
            if (at >= 1 && at + span < n && (cycles.Count == 0 || at > cycles[^1].RollbackAt)) cycles.Add(new RollbackCycle(at, at + span));
        return new ChaosTenant($"chaos-{index}", index % 2 == 0 ? "loko" : "adamw", 1000L * runSeed + index, labels, examples, cycles);
    }
}
