namespace LoKO.Server.Hosting;

/// <summary>
/// One base model of the "LoKO:Models:&lt;name&gt;" section: an ONNX file, how its inputs are made (Vocab for a text
/// model, Image for an image model), where its features are read (Features) and its default LoRA sites (Targets).
/// Relative paths resolve against the working directory, as <see cref="LoKOOptions.DataDirectory"/> does.
/// </summary>
public sealed class ModelOptions
{
    /// <summary>The ONNX file, weights inside it.</summary>
    public string? Path { get; set; }
    /// <summary>A text model's WordPiece vocabulary (one token a line, BERT's special tokens among them).</summary>
    public string? Vocab { get; set; }
    /// <summary>An image model's input size and normalisation.</summary>
    public ImageModelOptions? Image { get; set; }
    public FeatureOptions? Features { get; set; }
    /// <summary>Site globs a tenant gets when its lora.targets is unset; unset: every site the features depend on.</summary>
    public List<string>? Targets { get; set; }
}

/// <summary>"LoKO:Models:&lt;name&gt;:Image".</summary>
public sealed class ImageModelOptions
{
    /// <summary>Side of the square every image is resized to; unset: the graph's own, else LoKO:ImageSize.</summary>
    public int? Size { get; set; }
    /// <summary>Per-channel (R, G, B) mean of pixels scaled to [0, 1]; unset: 0, 0, 0.</summary>
    public List<float>? Mean { get; set; }
    /// <summary>Per-channel standard deviation; unset: 1, 1, 1.</summary>
    public List<float>? Std { get; set; }
}

/// <summary>"LoKO:Models:&lt;name&gt;:Features": the graph value the task head reads and how it is pooled.</summary>
public sealed class FeatureOptions
{
    /// <summary>A node's output (or a node's name, meaning its first output).</summary>
    public string? Node { get; set; }
    /// <summary>"mean" (over tokens, with the mask; text default), "cls", "globalAverage" (images default) or "none".</summary>
    public string? Pooling { get; set; }
}
