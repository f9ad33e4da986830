using static TorchSharp.torch;

namespace LoKO.Engine.Presets;

/// <summary>Settings of a preset base model.</summary>
public sealed record PresetOptions
{
    /// <summary>Text: tokens per example, [CLS] and [SEP] included; longer texts are truncated.</summary>
    public int MaxTokens { get; init; } = 128;

    /// <summary>Images: side of the square input every image is resized to.</summary>
    public int ImageSize { get; init; } = 224;

    public Device? Device { get; init; }

    /// <summary>Draw the graph's weights from this seed instead of reading them (<see cref="Onnx.WeightlessInitializers"/>); a stripped file's own seed when unset.</summary>
    public long? WeightSeed { get; init; }

    /// <summary>Run recognised op patterns fused (the default); off runs every node as itself, the reference fused runs are checked against.</summary>
    public bool Fuse { get; init; } = true;
}
