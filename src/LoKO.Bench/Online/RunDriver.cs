using System.Globalization;
using LoKO.Bench.Tasks;
using LoKO.Engine.Evaluation;
using LoKO.Engine.Lora;
using LoKO.Engine.Models;

namespace LoKO.Bench.Online;

/// <summary>Runs optimizer configurations over one task, each from the same adapter initialisation and stream order.</summary>
public sealed class RunDriver(BaseModel model, TaskData task, int seed)
{
    public LoraOptions Lora { get; } = new();

    /// <summary>A few untimed steps on a throwaway adapter, so the first measured run does not pay for first-use costs.</summary>
    public void WarmUp(int steps = 3)
    {
        var examples = task.Stream.Take(steps).ToList();
        foreach (var spec in new[] { new OptimizerSpec("loko", null), new OptimizerSpec("adamw", 1e-3) })
        {
            using var adapter = model.CreateAdapter(Lora, task.Classes.Count, seed + 1);
            using var optimizer = spec.Create(adapter);
            OnlineRun.Execute(model, adapter, optimizer, examples, []);
        }
    }

    public (OnlineRun Run, OnlineMetrics Metrics) Run(OptimizerSpec spec, bool scoreHeldOut = true)
    {
        using var adapter = model.CreateAdapter(Lora, task.Classes.Count, seed);
        using var optimizer = spec.Create(adapter);
        int every = Math.Max(50, task.Stream.Count / 10);
        var run = OnlineRun.Execute(model, adapter, optimizer, task.Stream, scoreHeldOut ? task.HeldOut : [], (done, record) =>
        {
            if (record.GuardEvent is not null) Console.Error.WriteLine($"  {spec.Label}: example {done}: {record.GuardEvent}");
            if (done % every == 0 || done == task.Stream.Count) Console.Error.Write($"\r  {spec.Label}: {done}/{task.Stream.Count}");
        });
        var metrics = OnlineMetrics.From(run);
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"\r  {spec.Label}: online {metrics.OnlineAccuracy:F3}, last {metrics.Tail} {metrics.TailAccuracy:F3}, best window {metrics.BestWindowedAccuracy:F3}, " +
            $"held-out {(metrics.HeldOutAccuracy is { } h ? h.ToString("F3", CultureInfo.InvariantCulture) : "—")}, {metrics.MeanStepMs:F1} ms/step, " +
            $"rejected {metrics.Rejected}, guard events {metrics.GuardEvents}{(metrics.Collapsed ? ", COLLAPSED" : "")} ({run.Seconds:F0} s)"));
        return (run, metrics);
    }
}
