using LoKO.Engine.Imaging;
using LoKO.Engine.Models;
using static TorchSharp.torch;

namespace LoKO.Engine.Presets;

/// <summary>Images → [B, 3, S, S]: resize (bilinear) to the model's input size, then its normalisation.</summary>
public sealed class ImageInputEncoder(string inputName, int size, IImageNormalisation normalisation) : IInputEncoder
{
    public Modality Modality => Modality.Image;
    public int Size { get; } = size;

    public EncodedInputs Encode(IReadOnlyList<ModelInput> batch, Device device)
    {
        if (batch.Count == 0) throw new ArgumentException("a batch needs at least one example", nameof(batch));
        int plane = 3 * Size * Size;
        var buffer = new float[batch.Count * plane];
        for (int i = 0; i < batch.Count; i++)
        {
            if (batch[i] is not ImageInput image)
                throw new ArgumentException("this model takes images; the example has no image", "image");
            ImageResizer.ResizeToChw(image.Image, Size, Size, buffer.AsSpan(i * plane, plane));
        }
        using var rgb = tensor(buffer, [batch.Count, 3, Size, Size], device: device);
        return new EncodedInputs(new Dictionary<string, Tensor> { [inputName] = normalisation.Apply(rgb) });
    }
}
