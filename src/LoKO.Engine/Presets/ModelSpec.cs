using LoKO.Engine.Models;

namespace LoKO.Engine.Presets;

/// <summary>
/// An ONNX file to serve as a base model: how its inputs are made (a WordPiece vocabulary for text, a size and a
/// normalisation for images), the graph value its features are read from and how they are pooled, and the LoRA
/// sites a tenant gets when it names none. <see cref="ModelLoader"/> checks it and loads it.
/// </summary>
public sealed record ModelSpec
{
    public required string Name { get; init; }
    /// <summary>The ONNX file (weights inside it).</summary>
    public required string Path { get; init; }
    public required Modality Modality { get; init; }
    /// <summary>Text: the WordPiece vocabulary (one token a line) whose ids the graph's input_ids take.</summary>
    public string? Vocab { get; init; }
    /// <summary>Images: the input size and normalisation.</summary>
    public ImageSpec Image { get; init; } = new();
    /// <summary>The graph value (a node's output) the features are read from.</summary>
    public required string FeatureNode { get; init; }
    public required PoolingKind Pooling { get; init; }
    /// <summary>Site globs a tenant gets when it names none; null: every site the features depend on.</summary>
    public IReadOnlyList<string>? Targets { get; init; }
}

/// <summary>
/// An image model's input: side of the square every image is resized to (null: the graph's own, else the server's
/// default), and the per-channel mean and std of RGB scaled to [0, 1].
/// </summary>
public sealed record ImageSpec
{
    public int? Size { get; init; }
    public IReadOnlyList<float> Mean { get; init; } = [0f, 0f, 0f];
    public IReadOnlyList<float> Std { get; init; } = [1f, 1f, 1f];
}
