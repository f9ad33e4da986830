using System.Text.Json;
using LoKO.Bench;
using LoKO.Bench.Agreement;
using LoKO.Bench.Batch;
using LoKO.Bench.Chaos;
using LoKO.Bench.Load;
using LoKO.Bench.Online;
using LoKO.Bench.Parity;
using LoKO.Bench.Scalars;
using LoKO.Bench.Scale;
using LoKO.Engine.Data;
using LoKO.Engine.Imaging;
using LoKO.Engine.Onnx;
using LoKO.Engine.Platform;

// loko-bench: measurements that are too slow or too machine-dependent for tests.
// Each command prints a human-readable account (stderr), then ONE JSON line last on stdout.
TorchThreading.PreferSleepingWorkers();
// Before the first product, which fixes MKL's kernels; a host LibTorch (--device) is loaded first, by TorchDevice.
if (LibTorchLoader.Configured(null) is null) MklVendorCheck.Apply();
var command = args.FirstOrDefault() ?? "help";
const string ParityUsage = "parity [--threads N] [--texts N] [--digits N] [--profile yes]";
try
{
    var options = BenchArgs.Parse(args.Skip(1).ToArray());
    switch (command)
    {
        case "parity":
            options.Allow("threads", "texts", "digits", "profile");
            int threads = options.Int("threads", Environment.ProcessorCount);
            int texts = options.Int("texts", 50), digits = options.Int("digits", 20);
            var fortunes = StreamOrder.Shuffle(FortuneCorpus.Load(), 7).Take(texts).Select(f => f.Text).ToList();
            var images = StreamOrder.Shuffle(MnistDigits.Load(), 7).Take(digits)
                .Select(d => RgbImage.FromPixels(d.Pixels, MnistDigits.Side, MnistDigits.Side)).ToList();
            Console.Error.WriteLine($"parity: {fortunes.Count} fortune texts through minilm-l6, {images.Count} MNIST digits through resnet18, {threads} threads");
            ParityRunner.MiniLm(fortunes.Take(2).ToList(), threads); // warm-up: first-run allocations and plan building
            bool profiled = options.String("profile") is "yes";
            StepProfile? minilmSteps = profiled ? new() : null, resnetSteps = profiled ? new() : null;
            var minilm = ParityRunner.MiniLm(fortunes, threads, minilmSteps);
            var resnet = ParityRunner.ResNet18(images, threads, resnetSteps);
            foreach (var (name, steps, n) in new[] { ("minilm-l6", minilmSteps, fortunes.Count), ("resnet18", resnetSteps, images.Count) })
            {
                if (steps is null) continue;
                Console.Error.WriteLine($"{name}: our steps by op type, per example ({steps.TotalMs / n:F2} ms in steps)");
                foreach (var (op, count, ms) in steps.Rows)
                    Console.Error.WriteLine($"  {op,-20} {count / (double)n,7:F1} steps {ms / n,8:F3} ms");
            }
            foreach (var (name, r) in new[] { ("minilm-l6", minilm), ("resnet18", resnet) })
                Console.Error.WriteLine($"{name,-10} max|diff|/scale {r.MaxAbsDiff:E2} (abs {r.AbsDiff:E2}, scale {r.OutputScale:F3})  ours {r.OursMs:F2} ms  ORT {r.OrtMs:F2} ms");
            Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, ParityResult> { ["minilm-l6"] = minilm, ["resnet18"] = resnet }));
            return 0;
        case "accuracy":
            return AccuracyCommand.Run(options);
        case "speed":
            return SpeedCommand.Run(options);
        case "agree":
            return AgreeCommand.Run(options);
        case "strip":
            return StripCommand.Run(options);
        case "sweep":
            return SweepCommand.Run(options);
        case "load":
            return LoadCommand.Run(options);
        case "compare":
            return CompareCommand.Run(options);
        case "chaos":
            return ChaosCommand.Run(options);
        case "tenants":
            return TenantsCommand.Run(options);
        case "soak":
            return SoakCommand.Run(options);
        case "batch":
            return BatchCommand.Run(options);
        case "scalars":
            return ScalarRaceCommand.Run(options);
        default:
            Console.Error.WriteLine("usage: loko-bench <command> [options]");
            foreach (var usage in new[] { ParityUsage, AccuracyCommand.Usage, SpeedCommand.Usage, AgreeCommand.Usage, StripCommand.Usage, SweepCommand.Usage, LoadCommand.Usage, CompareCommand.Usage, ChaosCommand.Usage, TenantsCommand.Usage, SoakCommand.Usage, BatchCommand.Usage, ScalarRaceCommand.Usage })
                Console.Error.WriteLine("  " + usage);
            return command is "help" or "--help" ? 0 : 2;
    }
}
catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException)
{
    Console.Error.WriteLine($"loko-bench {command}: {e.Message}");
    // A bad option or data file is reported by its message alone; anything thrown from a library gets its trace.
    if (e.TargetSite?.DeclaringType?.Namespace?.StartsWith("LoKO", StringComparison.Ordinal) != true) Console.Error.WriteLine(e);
    return 2;
}
