using static TorchSharp.torch;

namespace LoKO.Engine.Presets;

/// <summary>What an image model expects of its input pixels: [B, 3, H, W] RGB 0–255 → the network's input.</summary>
public interface IImageNormalisation
{
    Tensor Apply(Tensor rgb);
}
