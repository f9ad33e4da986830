using System.Collections.Concurrent;
using System.Diagnostics;

namespace LoKO.Engine.Onnx;

/// <summary>
/// Wall time and count per op type of the steps an executor runs while this is attached to it
/// (<see cref="GraphExecutor.Profile"/>): where a forward pass spends its time. Fused steps count under
/// their fused op; shape steps served from the cache are not run, so they do not count.
/// </summary>
public sealed class StepProfile
{
    readonly ConcurrentDictionary<string, (int Count, long Ticks)> _byOp = new();

    internal void Add(string opType, long ticks) =>
        _byOp.AddOrUpdate(opType, (1, ticks), (_, v) => (v.Count + 1, v.Ticks + ticks));

    /// <summary>Op type, steps run, total milliseconds: most time first.</summary>
    public IReadOnlyList<(string OpType, int Count, double Ms)> Rows =>
        [.. _byOp.Select(kv => (kv.Key, kv.Value.Count, kv.Value.Ticks * 1000.0 / Stopwatch.Frequency)).OrderByDescending(r => r.Item3)];

    public double TotalMs => Rows.Sum(r => r.Ms);

    public void Clear() => _byOp.Clear();
}
