using static TorchSharp.torch;

namespace LoKO.Engine.Models;

/// <summary>Turns raw inputs into graph feeds: tokenisation for text, decoding/resizing/normalising for images.</summary>
public interface IInputEncoder
{
    Modality Modality { get; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the field for input of the wrong kind or shape.</summary>
    EncodedInputs Encode(IReadOnlyList<ModelInput> batch, Device device);
}
