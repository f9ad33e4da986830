using System.Text.Json;
using LoKO.Bench.Online;
using LoKO.Engine.Filter;
using LoKO.Engine.Lora;
using LoKO.Engine.Models;
using LoKO.Engine.Optimizers;
using LoKO.Engine.Platform;
using LoKO.Engine.Presets;
using static TorchSharp.torch;
using static LoKO.Bench.Online.Format;

namespace LoKO.Bench.Agreement;

/// <summary>
/// `agree`: the same forward and the same filter steps (default LoKO, same inputs, same adapter seed) on the device and
/// on a reference, compared. The reference is the CPU; on the CPU itself it is the CPU running every graph node as
/// itself (no fused ops), so the check still compares two different computations. Passes when every difference is at
/// most --tolerance of its scale.
/// </summary>
public static class AgreeCommand
{
    public const string Usage = "agree [--device cpu|cuda|cuda:N|auto] [--presets minilm-l6,resnet18] [--steps 20] [--classes 2] [--variants natural-root,paper,natural-root-robust/dv=30] [--reference cpu|cpu-unfused] [--tolerance 1e-4] [--image-size 64] [--max-tokens 64] [--threads N]";

    public static int Run(BenchArgs args)
    {
        args.Allow("device", "variants", "presets", "steps", "classes", "reference", "tolerance", "image-size", "max-tokens", "threads");
        var device = Devices.Resolve(args);
        Threads.Apply(args);
        var presets = args.List("presets", [ModelPresets.MiniLmL6, ModelPresets.ResNet18]);
        foreach (var p in presets)
            if (!ModelPresets.AllNames.Contains(p)) throw new ArgumentException($"--presets: unknown preset '{p}'; known presets: {string.Join(", ", ModelPresets.AllNames)}");
        int steps = args.Int("steps", 20), classes = args.Int("classes", 2);
        if (classes < 2) throw new ArgumentException("--classes must be at least 2");
        bool onCpu = device.Device.type == TorchSharp.DeviceType.CPU;
        var reference = args.String("reference") ?? (onCpu ? "cpu-unfused" : "cpu");
        if (reference is not ("cpu" or "cpu-unfused")) throw new ArgumentException($"--reference must be cpu or cpu-unfused, got '{reference}'");
        if (onCpu && reference == "cpu") throw new ArgumentException("--reference cpu on --device cpu compares a run with itself; use cpu-unfused");
        double tolerance = args.Numbers("tolerance", [1e-4])[0];
        // natural-root-robust beside the default: the same algebra without its LoRA prior, whose θ cannot be held.
        var variants = args.List("variants", [LokoVariants.Default, LokoVariants.NaturalRootRobust, LokoVariants.Paper]);
        foreach (var v in variants) Options(v);
        var basis = new PresetOptions { ImageSize = args.Int("image-size", 64), MaxTokens = args.Int("max-tokens", 64) };

        Console.Error.WriteLine($"agree: {string.Join(", ", presets)} on {device.Name} against {reference}: forward of 4 examples, then {steps} LoKO steps of each of {string.Join(", ", variants)} ({classes} classes), tolerance {Num(tolerance)} of scale");
        var results = new List<PresetAgreement>();
        foreach (var preset in presets)
        {
            using var candidate = ModelPresets.Load(preset, basis with { Device = device.Device });
            using var baseline = ModelPresets.Load(preset, basis with { Device = CPU, Fuse = reference == "cpu" });
            var examples = BenchExamples.For(preset, classes).Take(4 + steps).ToList();
            var (forwardScale, forwardDiff) = Forward(candidate, baseline, examples);
            foreach (var variant in variants)
            {
                var r = Steps(preset, variant, candidate, baseline, examples, classes, steps, tolerance) with { ForwardScale = forwardScale, ForwardDiff = forwardDiff };
                r = r with { Pass = r.Pass && forwardDiff <= tolerance };
                Console.Error.WriteLine(Inv($"agree: {preset} {variant}: forward {r.ForwardDiff:E2} of {r.ForwardScale:G3}, predictions {r.PredictionDiff:E2}, θ after {steps} steps {r.ThetaDiff:E2} of {r.ThetaScale:G3}{(r.ThetaHeld ? "" : " (not held)")} (applied {r.AppliedCandidate}/{r.AppliedReference}): {(r.Pass ? "agree" : "DIFFER")}"));
                results.Add(r);
            }
        }
        bool pass = results.All(r => r.Pass);
        Console.WriteLine(JsonSerializer.Serialize(new { device = device.Name, reference, variants, steps, classes, tolerance, results, pass }, Json));
        return pass ? 0 : 1;
    }

    static (double Scale, double Diff) Forward(BaseModel candidate, BaseModel baseline, List<(ModelInput Input, int Label)> examples)
    {
        using var scope = NewDisposeScope();
        ModelInput[] batch = [.. examples.Take(4).Select(e => e.Input)];
        using var a = candidate.Encode(batch);
        using var b = baseline.Encode(batch);
        using var _ = no_grad();
        var (scale, diff) = Difference(candidate.Features(a), baseline.Features(b));
        return (scale, diff / Math.Max(scale, 1e-30));
    }

    /// <summary>
    /// The filter steps of one variant on both. θ is held to the tolerance for the variants whose step is smooth in
    /// the gradient; a root-precision LoRA block without an effective prior (natural-root, natural-root-robust) scales
    /// each entry's step by the root of that entry's own squared gradient, so an entry whose gradient is at rounding
    /// level takes a step whose size rounding sets: its θ is reported, its predictions are held.
    /// </summary>
    static PresetAgreement Steps(string preset, string variant, BaseModel candidate, BaseModel baseline, List<(ModelInput Input, int Label)> examples,
                                 int classes, int steps, double tolerance)
    {
        if (examples.Count < 4 + steps) throw new ArgumentException($"{preset}: {4 + steps} examples needed, the data has {examples.Count}");
        var options = Options(variant);
        var filter = new OptimizerSpec("loko", null, options);
        bool thetaHeld = !(options.DiagonalForm == DiagonalForm.RootPrecision && options.DiagonalPriorVariance >= NoEffectivePrior);
        using var adapterA = candidate.CreateAdapter(new LoraOptions(), classes, seed: 1);
        using var adapterB = baseline.CreateAdapter(new LoraOptions(), classes, seed: 1);
        using var filterA = filter.Create(adapterA);
        using var filterB = filter.Create(adapterB);
        double predictionDiff = 0;
        int appliedA = 0, appliedB = 0;
        foreach (var (input, label) in examples.Skip(4).Take(steps))
        {
            using var scope = NewDisposeScope();
            using var a = candidate.Encode([input]);
            using var b = baseline.Encode([input]);
            var targets = tensor(new long[] { label });
            using var stepA = filterA.Step(candidate.Pass(a, adapterA), targets);
            using var stepB = filterB.Step(baseline.Pass(b, adapterB), targets);
            var (scale, diff) = Difference(stepA.Predictions, stepB.Predictions);
            predictionDiff = Math.Max(predictionDiff, diff / Math.Max(scale, 1e-30));
            if (stepA.Applied) appliedA++;
            if (stepB.Applied) appliedB++;
        }
        var (thetaScale, thetaDiff) = Difference(adapterA.Theta.detach(), adapterB.Theta.detach());
        Console.Error.WriteLine($"agree: {preset} {variant}: θ differs most in {Where(adapterB.Layout, adapterA.Theta.detach(), adapterB.Theta.detach())}");
        double thetaRel = thetaDiff / Math.Max(thetaScale, 1e-30);
        bool pass = predictionDiff <= tolerance && (!thetaHeld || thetaRel <= tolerance) && appliedA == appliedB;
        return new PresetAgreement(preset, variant, steps, 0, 0, predictionDiff, thetaScale, thetaRel, thetaHeld, appliedA, appliedB, pass);
    }

    /// <summary>A variant's name, or a name with settings as `accuracy --optimizers` takes them (`natural-root-robust/dv=30`).</summary>
    static LokoOptions Options(string variant) => LokoSpec.Parse($"loko:{variant}").Options;

    /// <summary>A LoRA prior of this logit variance or more no longer caps the first normalised steps.</summary>
    const double NoEffectivePrior = 1e3;

    /// <summary>The piece of θ (a site's A or B, the head) where the largest difference sits.</summary>
    static string Where(AdapterLayout layout, Tensor a, Tensor b)
    {
        using var d = (a.cpu() - b.cpu()).abs();
        long i = d.argmax().item<long>();
        var segment = layout.Segments.FirstOrDefault(s => i >= s.Offset && i < s.Offset + s.Length);
        return segment is null ? $"entry {i}" : $"{segment.Name} (entry {i - segment.Offset}: {a.cpu()[i].item<float>():G6} vs {b.cpu()[i].item<float>():G6})";
    }

    /// <summary>The reference's max |value| and the max |difference|, both computed on the CPU in float64.</summary>
    static (double Scale, double Diff) Difference(Tensor candidate, Tensor reference)
    {
        using var a = candidate.detach().cpu().to(ScalarType.Float64);
        using var b = reference.detach().cpu().to(ScalarType.Float64);
        if (!a.shape.SequenceEqual(b.shape))
            throw new InvalidOperationException($"shapes differ: [{string.Join(",", a.shape)}] and [{string.Join(",", b.shape)}]");
        using var diff = (a - b).abs().max();
        using var scale = b.abs().max();
        return (scale.item<double>(), diff.item<double>());
    }
}
