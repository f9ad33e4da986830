using System.Text.Json;
using LoKO.Engine.Presets;
using static LoKO.Bench.Online.Format;

namespace LoKO.Bench.Agreement;

/// <summary>
/// `strip`: the folder LOKO_MODEL_ASSETS names on a host without the model packages: the presets' graphs without their
/// weights (drawn from --seed when loaded), minilm-l6's vocabulary and resnet18's preprocessing graph as they are.
/// </summary>
public static class StripCommand
{
    public const string Usage = "strip --out DIR [--seed 1]";

    public static int Run(BenchArgs args)
    {
        args.Allow("out", "seed");
        var dir = args.String("out") ?? throw new ArgumentException("--out is required: the folder to write the stripped graphs into");
        long seed = args.Int("seed", 1);
        Directory.CreateDirectory(dir);
        ModelPresets.WriteStripped(ModelPresets.MiniLmL6, Path.Combine(dir, ModelAssets.MiniLmModelFile), seed);
        ModelPresets.WriteStripped(ModelPresets.ResNet18, Path.Combine(dir, ModelAssets.ResNet18File), seed);
        using (var vocab = ModelAssets.OpenMiniLmVocab())
        using (var file = File.Create(Path.Combine(dir, ModelAssets.MiniLmVocabFile))) vocab.CopyTo(file);
        File.Copy(ModelAssets.ResNetPreprocessPath, Path.Combine(dir, ModelAssets.ResNetPreprocessFile), overwrite: true);
        var sizes = ModelAssets.FileNames.ToDictionary(n => n, n => new FileInfo(Path.Combine(dir, n)).Length);
        foreach (var (name, bytes) in sizes) Console.Error.WriteLine(Inv($"strip: {name} {bytes / 1024.0:F0} KiB"));
        Console.WriteLine(JsonSerializer.Serialize(new { directory = Path.GetFullPath(dir), seed, files = sizes }, Json));
        return 0;
    }
}
