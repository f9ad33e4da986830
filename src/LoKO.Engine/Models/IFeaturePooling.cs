using LoKO.Engine.Platform;
using static TorchSharp.torch;

namespace LoKO.Engine.Models;

/// <summary>The feature node where the task head attaches: a graph value and how to pool it to [batch, features].</summary>
public interface IFeaturePooling
{
    string GraphValue { get; }
    PoolingKind Kind { get; }
    Tensor Pool(Tensor value, EncodedInputs inputs);
}

/// <summary>Mean over tokens weighted by the attention mask (sentence-transformers' mean pooling).</summary>
public sealed class MaskedMeanPooling(string graphValue) : IFeaturePooling
{
    public string GraphValue { get; } = graphValue;
    public PoolingKind Kind => PoolingKind.Mean;

    public Tensor Pool(Tensor value, EncodedInputs inputs)
    {
        var mask = inputs.TokenMask ?? throw new InvalidOperationException("masked mean pooling needs a token mask");
        var m = mask.to(value.dtype).to(value.device).unsqueeze(-1);
        return (value * m).sum(dim: 1) / m.sum(dim: 1).AtLeast(1e-9);
    }
}

/// <summary>Mean over all spatial positions; works for any input size, unlike a fixed-window AveragePool.</summary>
public sealed class GlobalAveragePooling(string graphValue) : IFeaturePooling
{
    public string GraphValue { get; } = graphValue;
    public PoolingKind Kind => PoolingKind.GlobalAverage;

    public Tensor Pool(Tensor value, EncodedInputs inputs) =>
        value.mean([.. Enumerable.Range(2, (int)value.dim() - 2).Select(i => (long)i)]);
}

/// <summary>The first token's vector: BERT's [CLS] position.</summary>
public sealed class ClsPooling(string graphValue) : IFeaturePooling
{
    public string GraphValue { get; } = graphValue;
    public PoolingKind Kind => PoolingKind.Cls;

    public Tensor Pool(Tensor value, EncodedInputs inputs) => value.select(1, 0);
}

/// <summary>No pooling: a value that already holds one vector per example (e.g. [B, F] or [B, C, 1, 1]).</summary>
public sealed class FlattenPooling(string graphValue) : IFeaturePooling
{
    public string GraphValue { get; } = graphValue;
    public PoolingKind Kind => PoolingKind.None;

    public Tensor Pool(Tensor value, EncodedInputs inputs) => value.dim() == 1 ? value.unsqueeze(1) : value.flatten(1);
}
