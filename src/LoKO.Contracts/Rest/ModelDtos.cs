using System.Text.Json.Serialization;

namespace LoKO.Contracts.Rest;

/// <summary>GET /v1/models: a base model this server offers, which a tenant's preset may name.</summary>
public sealed record ModelResponse
{
    public required string Name { get; init; }
    /// <summary>"text" or "image": what examples and predictions take.</summary>
    public required string Modality { get; init; }
    /// <summary>Shipped with the server (minilm-l6, resnet18) rather than configured under LoKO:Models.</summary>
    public bool BuiltIn { get; init; }
    /// <summary>SHA-256 (lower-case hex) of the ONNX file; a tenant's description shows the one it learned on.</summary>
    public required string Sha256 { get; init; }
    /// <summary>Version of the default ONNX operator set the file was exported with.</summary>
    public long Opset { get; init; }
    /// <summary>Text models: tokens per example, [CLS] and [SEP] included.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? MaxTokens { get; init; }
    /// <summary>Image models: side of the square every image is resized to.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? ImageSize { get; init; }
    public required ModelFeatures Features { get; init; }
    /// <summary>The site globs a tenant gets when its lora.targets is unset.</summary>
    public required IReadOnlyList<string> DefaultTargets { get; init; }
    /// <summary>Every LoRA site (a MatMul, Gemm or Conv with a frozen weight), in graph order.</summary>
    public required IReadOnlyList<ModelSite> Sites { get; init; }
}

/// <summary>Where the task head attaches: a graph value, its pooling ("mean", "cls", "globalAverage", "none") and the width.</summary>
public sealed record ModelFeatures(string Node, string Pooling, long Dim);

/// <summary>One LoRA site: its name (what lora.targets globs match), op kind, in and out features, and whether the default targets select it.</summary>
public sealed record ModelSite(string Name, string Kind, long InFeatures, long OutFeatures, bool ByDefault);
