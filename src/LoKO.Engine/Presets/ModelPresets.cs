using LoKO.Engine.Models;
using LoKO.Engine.Onnx;
using LoKO.Engine.Text;

namespace LoKO.Engine.Presets;

/// <summary>The base models that ship with the product, loaded from their NuGet packages (nothing is downloaded).</summary>
public static class ModelPresets
{
    public const string MiniLmL6 = "minilm-l6";
    public const string ResNet18 = "resnet18";

    public static IReadOnlyList<string> Names { get; } = [MiniLmL6, ResNet18];

    public static BaseModel Load(string name, PresetOptions? options = null)
    {
        options ??= new PresetOptions();
        if (options.MaxTokens is < 3 or > 512) throw new ArgumentOutOfRangeException("maxTokens", options.MaxTokens, "must be between 3 and 512");
        if (options.ImageSize is < 32 or > 1024) throw new ArgumentOutOfRangeException("imageSize", options.ImageSize, "must be between 32 and 1024");
        return name switch
        {
            MiniLmL6 => LoadMiniLm(options),
            ResNet18 => LoadResNet18(options),
            _ => throw new ArgumentException($"unknown preset '{name}'; known presets: {string.Join(", ", Names)}", "preset"),
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

    /// <summary>all-MiniLM-L6-v2: features are the attention-masked mean of last_hidden_state; LoRA on query and value.</summary>
    static BaseModel LoadMiniLm(PresetOptions options)
    {
        OnnxGraph graph;
        using (var model = ModelAssets.OpenMiniLmModel()) graph = OnnxGraph.Load(model, MiniLmL6);
        TextEncoder tokenizer;
        using (var vocab = ModelAssets.OpenMiniLmVocab()) tokenizer = new TextEncoder(vocab, options.MaxTokens);
        return new BaseModel(MiniLmL6, graph, new TextInputEncoder(tokenizer), new MaskedMeanPooling("last_hidden_state"),
            featureDim: 384,
            defaultTargets: ["encoder.layer.*.attention.self.query", "encoder.layer.*.attention.self.value"],
            options.Device);
    }

    /// <summary>
    /// ResNet18 (CNTK export): features are the global average of the last conv stage (the input of the
    /// final 7×7 AveragePool, which would pin inputs to 224×224); LoRA on the last stage's convs.
    /// </summary>
    static BaseModel LoadResNet18(PresetOptions options)
    {
        var graph = OnnxGraph.Load(ModelAssets.ResNet18Path, ResNet18);
        ImageNormalisation normalisation;
        using (var prep = OnnxGraph.Load(ModelAssets.ResNetPreprocessPath)) normalisation = ImageNormalisation.FromPreprocessGraph(prep);

        var pool = graph.Nodes.Last(n => n.OpType == "AveragePool");
        var convs = graph.Nodes.Where(n => n.OpType == "Conv").ToList();
        long width = graph.Initializers[convs[^1].Inputs[1]].shape[0];
        var lastStage = convs.Where(c => graph.Initializers[c.Inputs[1]].shape[0] == width).Select(c => c.Inputs[1]).ToList();

        var input = graph.Inputs[0].Name;
        var model = new BaseModel(ResNet18, graph, new ImageInputEncoder(input, options.ImageSize, normalisation),
            new GlobalAveragePooling(pool.Inputs[0]), featureDim: width, defaultTargets: lastStage, options.Device);
        // The export pins [1, 3, 224, 224]; batch and spatial size are free in every op up to the feature node.
        model.Executor.RelaxInputDims(input, 0, 2, 3);
        return model;
    }
}
