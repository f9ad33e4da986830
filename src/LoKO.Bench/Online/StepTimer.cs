using System.Diagnostics;
using LoKO.Engine.Lora;
using LoKO.Engine.Models;
using LoKO.Engine.Optimizers;
using static TorchSharp.torch;

namespace LoKO.Bench.Online;

/// <summary>
/// Mean step time (forward, gradient or Jacobian, update) of one or more optimizers on the same real inputs,
/// after untimed warm-up steps. Inputs are encoded before the clock starts. The optimizers alternate step by
/// step, each on its own adapter (default LoRA options, same seed), so load on a shared machine falls on all alike.
/// </summary>
static class StepTimer
{
    public const int WarmupSteps = 3;

    /// <summary>Examples needed for <paramref name="steps"/> timed steps of <paramref name="batch"/>.</summary>
    public static int Needed(int steps, int batch) => (WarmupSteps + steps) * batch;

    /// <summary>Mean milliseconds per step of each optimizer, in the order of <paramref name="optimizers"/>.</summary>
    public static double[] MeanMs(BaseModel model, IReadOnlyList<(ModelInput Input, int Label)> examples, int classes, int batch, int steps,
                                  IReadOnlyList<Func<TenantAdapter, IOnlineOptimizer>> optimizers)
    {
        if (examples.Count < Needed(steps, batch))
            throw new ArgumentException($"{steps} steps of batch {batch} need {Needed(steps, batch)} examples; the data has {examples.Count}");
        var adapters = optimizers.Select(_ => model.CreateAdapter(new LoraOptions(), classes, seed: 1)).ToList();
        var running = optimizers.Select((create, i) => create(adapters[i])).ToList();
        try
        {
            var total = new double[optimizers.Count];
            for (int s = 0; s < WarmupSteps + steps; s++)
            {
                var chunk = examples.Skip(s * batch).Take(batch).ToList();
                using var scope = NewDisposeScope();
                using var inputs = model.Encode([.. chunk.Select(c => c.Input)]);
                var targets = tensor(chunk.Select(c => (long)c.Label).ToArray());
                for (int o = 0; o < running.Count; o++)
                {
                    var adapter = adapters[o];
                    double ms = Time(model, () => running[o].Step(model.Pass(inputs, adapter), targets));
                    if (s >= WarmupSteps) total[o] += ms;
                }
            }
            return [.. total.Select(t => t / steps)];
        }
        finally
        {
            foreach (var o in running) o.Dispose();
            foreach (var a in adapters) a.Dispose();
        }
    }

    static double Time(BaseModel model, Func<StepOutcome> step)
    {
        var clock = Stopwatch.StartNew();
        using var outcome = step();
        // A step's last kernels may still run on an accelerator when it returns.
        if (model.Device.type == TorchSharp.DeviceType.CUDA) cuda.synchronize(model.Device);
        clock.Stop();
        if (outcome.Status == StepStatus.Rejected) Console.Error.WriteLine($"  step rejected: {outcome.Reason}");
        return clock.Elapsed.TotalMilliseconds;
    }
}
