using LoKO.Engine.Platform;
using static TorchSharp.torch;

namespace LoKO.Engine.Presets;

/// <summary>
/// torchvision's normalisation: RGB scaled to [0, 1], then per channel (x − mean) / std. The default (mean 0, std 1)
/// only scales.
/// </summary>
public sealed class ChannelNormalisation : IImageNormalisation
{
    readonly float[] _scale;
    readonly float[] _shift;
    readonly Dictionary<string, (Tensor Scale, Tensor Shift)> _byDevice = [];

    public ChannelNormalisation(IReadOnlyList<float> mean, IReadOnlyList<float> std)
    {
        if (mean.Count != 3) throw new ArgumentException($"needs 3 values (R, G, B), got {mean.Count}", nameof(mean));
        if (std.Count != 3) throw new ArgumentException($"needs 3 values (R, G, B), got {std.Count}", nameof(std));
        if (std.Any(s => !(s > 0) || !float.IsFinite(s))) throw new ArgumentException("every value must be above 0", nameof(std));
        if (mean.Any(m => !float.IsFinite(m))) throw new ArgumentException("every value must be a finite number", nameof(mean));
        Mean = [.. mean];
        Std = [.. std];
        // (x / 255 − mean) / std as one multiply-add per pixel.
        _scale = [.. std.Select(s => 1f / (255f * s))];
        _shift = [.. mean.Zip(std, (m, s) => -m / s)];
    }

    public IReadOnlyList<float> Mean { get; }
    public IReadOnlyList<float> Std { get; }

    public Tensor Apply(Tensor rgb)
    {
        (Tensor Scale, Tensor Shift) factors;
        lock (_byDevice)
        {
            var key = rgb.device.ToString();
            if (!_byDevice.TryGetValue(key, out factors))
                factors = _byDevice[key] = (
                    tensor(_scale, [1, 3, 1, 1], device: rgb.device).DetachFromDisposeScope(),
                    tensor(_shift, [1, 3, 1, 1], device: rgb.device).DetachFromDisposeScope());
        }
        return rgb.mul(factors.Scale).PlusInPlace(factors.Shift);
    }
}
