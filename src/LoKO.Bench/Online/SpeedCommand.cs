using System.Text.Json;
using LoKO.Engine.Data;
using LoKO.Engine.Filter;
using LoKO.Engine.Imaging;
using LoKO.Engine.Models;
using LoKO.Engine.Optimizers;
using LoKO.Engine.Presets;
using static TorchSharp.torch;
using static LoKO.Bench.Online.Format;

namespace LoKO.Bench.Online;

/// <summary>
/// `speed`: mean step time of the LoKO filter (default options) and AdamW on the same real inputs (fortune
/// texts or MNIST digits), timed by <see cref="StepTimer"/>.
/// </summary>
public static class SpeedCommand
{
    public const string Usage = "speed --preset minilm-l6|resnet18|synthetic-bert-base [--classes C] [--batch b] [--steps N] [--image-size 64] [--max-tokens 64] [--threads N] [--device cpu|cuda|cuda:N|auto]";

    public static int Run(BenchArgs args)
    {
        args.Allow("preset", "classes", "batch", "steps", "image-size", "max-tokens", "threads", "device");
        var device = Devices.Resolve(args);
        Threads.Apply(args);
        var preset = args.String("preset") ?? throw new ArgumentException("--preset is required (minilm-l6|resnet18|synthetic-bert-base)");
        int classes = args.Int("classes", 2), batch = args.Int("batch", 1), steps = args.Int("steps", 20);
        if (classes < 2) throw new ArgumentException("--classes must be at least 2");
        var options = new PresetOptions { ImageSize = args.Int("image-size", 64), MaxTokens = args.Int("max-tokens", 64), Device = device.Device };
        int needed = StepTimer.Needed(steps, batch);
        var examples = BenchExamples.For(preset, classes);
        if (examples.Count < needed) throw new ArgumentException($"--steps × --batch needs {needed} examples; the data has {examples.Count}");

        Console.Error.WriteLine($"speed: {preset} on {device.Name}, {classes} classes, batch {batch}, {get_num_threads()} threads, {StepTimer.WarmupSteps} warm-up + {steps} timed steps each for loko ({LokoVariants.Default}), loko paper and adamw");
        using var model = ModelPresets.Load(preset, options);
        var ms = StepTimer.MeanMs(model, examples, classes, batch, steps,
            [adapter => new OptimizerSpec("loko", null).Create(adapter), adapter => new OptimizerSpec("loko", null, LokoOptions.Paper).Create(adapter),
             adapter => GradientOptimizer.AdamW(adapter.Theta, 1e-3)]);
        double lokoMs = ms[0], paperMs = ms[1], adamwMs = ms[2];
        Console.Error.WriteLine(Inv($"speed: loko ({LokoVariants.Default}) {lokoMs:F1} ms/step, loko paper {paperMs:F1}, adamw {adamwMs:F1} ms/step, ratio {lokoMs / adamwMs:F2}"));
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            preset,
            device = device.Name,
            classes,
            batch,
            variant = LokoVariants.Default,
            lokoMs = Math.Round(lokoMs, 3),
            paperMs = Math.Round(paperMs, 3),
            adamwMs = Math.Round(adamwMs, 3),
            ratio = Math.Round(lokoMs / adamwMs, 3),
        }, Json));
        return 0;
    }
}
