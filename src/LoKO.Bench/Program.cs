using System.Text.Json;
using LoKO.Bench;
using LoKO.Bench.Parity;
using LoKO.Engine.Data;
using LoKO.Engine.Imaging;

// loko-bench: measurements that are too slow or too machine-dependent for tests.
// Each command prints a human-readable account, then ONE JSON line last on stdout.
var command = args.FirstOrDefault() ?? "help";
var options = BenchArgs.Parse(args.Skip(1).ToArray());
switch (command)
{
    case "parity":
        int threads = options.Int("threads", Environment.ProcessorCount);
        int texts = options.Int("texts", 50), digits = options.Int("digits", 20);
        var fortunes = StreamOrder.Shuffle(FortuneCorpus.Load(), 7).Take(texts).Select(f => f.Text).ToList();
        var images = StreamOrder.Shuffle(MnistDigits.Load(), 7).Take(digits)
            .Select(d => RgbImage.FromPixels(d.Pixels, MnistDigits.Side, MnistDigits.Side)).ToList();
        Console.Error.WriteLine($"parity: {fortunes.Count} fortune texts through minilm-l6, {images.Count} MNIST digits through resnet18, {threads} threads");
        ParityRunner.MiniLm(fortunes.Take(2).ToList(), threads); // warm-up: first-run allocations and plan building
        var minilm = ParityRunner.MiniLm(fortunes, threads);
        var resnet = ParityRunner.ResNet18(images, threads);
        foreach (var (name, r) in new[] { ("minilm-l6", minilm), ("resnet18", resnet) })
            Console.Error.WriteLine($"{name,-10} max|diff|/scale {r.MaxAbsDiff:E2} (abs {r.AbsDiff:E2}, scale {r.OutputScale:F3})  ours {r.OursMs:F2} ms  ORT {r.OrtMs:F2} ms");
        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, ParityResult> { ["minilm-l6"] = minilm, ["resnet18"] = resnet }));
        return 0;
    default:
        Console.Error.WriteLine("usage: loko-bench parity [--threads N] [--texts N] [--digits N]");
        return command == "help" ? 0 : 2;
}
