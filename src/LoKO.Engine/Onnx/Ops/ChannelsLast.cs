using static TorchSharp.torch;

namespace LoKO.Engine.Onnx.Ops;

/// <summary>
/// 4-D tensors kept NCHW in shape but NHWC in memory. On the CPU oneDNN convolves these without reordering
/// the activations into its blocked layout and back at every call, which at batch 1 cost more than the product
/// itself (a 3×3 64-channel conv over 56×56: 6.2 → 2.4 ms on one thread). The convolution's output comes back
/// NHWC too, and the ops between convolutions (Relu, Add, MaxPool) keep that layout, so only the first input is copied.
/// </summary>
internal static class ChannelsLast
{
    public static bool Is(Tensor t)
    {
        if (t.dim() != 4) return false;
        long[] s = t.stride(), n = t.shape;
        return s[1] == 1 && s[3] == n[1] && s[2] == n[1] * n[3];
    }

    /// <summary>The same values NHWC in memory (itself when already so); only 4-D CPU float tensors are laid out again.</summary>
    public static Tensor Of(Tensor t) =>
        t.dim() != 4 || t.device_type != TorchSharp.DeviceType.CPU || !t.is_floating_point() || Is(t) ? t
        : t.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
}
