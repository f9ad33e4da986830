using static TorchSharp.torch;

namespace LoKO.Engine.Models;

/// <summary>The feature node where the task head attaches: a graph value and how to pool it to [batch, features].</summary>
public interface IFeaturePooling
{
    string GraphValue { get; }
    Tensor Pool(Tensor value, EncodedInputs inputs);
}

/// <summary>Mean over tokens weighted by the attention mask (sentence-transformers' mean pooling).</summary>
public sealed class MaskedMeanPooling(string graphValue) : IFeaturePooling
{
    public string GraphValue { get; } = graphValue;

    public Tensor Pool(Tensor value, EncodedInputs inputs)
    {
        var mask = inputs.TokenMask ?? throw new InvalidOperationException("masked mean pooling needs a token mask");
        var m = mask.to(value.dtype).to(value.device).unsqueeze(-1);
        return (value * m).sum(dim: 1) / m.sum(dim: 1).clamp_min(1e-9);
    }
}

/// <summary>Mean over all spatial positions; works for any input size, unlike a fixed-window AveragePool.</summary>
public sealed class GlobalAveragePooling(string graphValue) : IFeaturePooling
{
    public string GraphValue { get; } = graphValue;

    public Tensor Pool(Tensor value, EncodedInputs inputs) =>
        value.mean([.. Enumerable.Range(2, (int)value.dim() - 2).Select(i => (long)i)]);
}
