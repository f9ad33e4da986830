using static TorchSharp.torch;

namespace LoKO.Engine.Models;

/// <summary>Graph feeds for one batch, plus the token mask that pooling needs (text only).</summary>
public sealed class EncodedInputs(Dictionary<string, Tensor> feeds, Tensor? tokenMask = null) : IDisposable
{
    public IReadOnlyDictionary<string, Tensor> Feeds { get; } = feeds;
    public Tensor? TokenMask { get; } = tokenMask;
    public long Batch => Feeds.Values.First().shape[0];

    public void Dispose()
    {
        foreach (var t in Feeds.Values) t.Dispose();
        TokenMask?.Dispose();
    }
}
