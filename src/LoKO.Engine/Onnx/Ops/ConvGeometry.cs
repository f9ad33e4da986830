using static TorchSharp.torch;

namespace LoKO.Engine.Onnx.Ops;

/// <summary>
/// Stride, dilation, group and (possibly asymmetric or automatic) padding of a Conv node. Shared by the
/// Conv kernel and by LoRA's A convolution, which must see exactly the same receptive fields.
/// </summary>
public sealed record ConvGeometry(long[] Strides, long[] Dilations, long[]? Pads, string AutoPad, long Group)
{
    public static ConvGeometry Of(OnnxNode node, int spatialRank) => new(
        node.Ints("strides") ?? Filled(spatialRank, 1),
        node.Ints("dilations") ?? Filled(spatialRank, 1),
        node.Ints("pads"),
        node.String("auto_pad", "NOTSET"),
        node.Int("group", 1));

    /// <summary>Conv with this geometry and any weight of matching spatial kernel (1-D or 2-D).</summary>
    public Tensor Apply(Tensor x, Tensor weight, Tensor? bias)
    {
        int spatial = (int)x.dim() - 2;
        long[] kernel = weight.shape[2..];
        long[] pads = ResolvePads(x.shape[2..], kernel);
        bool symmetric = Enumerable.Range(0, spatial).All(i => pads[i] == pads[i + spatial]);
        long[] padding = symmetric ? pads[..spatial] : Filled(spatial, 0);
        if (!symmetric) x = nn.functional.pad(x, TorchPadOrder(pads));
        return spatial switch
        {
            1 => nn.functional.conv1d(x, weight, bias, Strides[0], padding[0], Dilations[0], Group),
            2 => nn.functional.conv2d(x, weight, bias, Strides, padding, Dilations, Group),
            _ => throw new OnnxModelException($"Conv over {spatial} spatial dimensions is not supported"),
        };
    }

    /// <summary>ONNX pads [b1, b2, …, e1, e2, …] for this input; SAME_* computed as the spec says.</summary>
    public long[] ResolvePads(long[] inputSpatial, long[] kernel)
    {
        int n = inputSpatial.Length;
        if (AutoPad is "SAME_UPPER" or "SAME_LOWER")
        {
            var pads = new long[2 * n];
            for (int i = 0; i < n; i++)
            {
                long outSize = (inputSpatial[i] + Strides[i] - 1) / Strides[i];
                long total = Math.Max(0, (outSize - 1) * Strides[i] + (kernel[i] - 1) * Dilations[i] + 1 - inputSpatial[i]);
                long small = total / 2, large = total - small;
                (pads[i], pads[i + n]) = AutoPad == "SAME_UPPER" ? (small, large) : (large, small);
            }
            return pads;
        }
        return AutoPad == "VALID" ? Filled(2 * n, 0) : Pads ?? Filled(2 * n, 0);
    }

    /// <summary>torch's pad wants (last-dim begin, last-dim end, previous-dim begin, …).</summary>
    internal static long[] TorchPadOrder(long[] onnxPads)
    {
        int n = onnxPads.Length / 2;
        var result = new long[2 * n];
        for (int i = 0; i < n; i++)
        {
            result[2 * i] = onnxPads[n - 1 - i];
            result[2 * i + 1] = onnxPads[2 * n - 1 - i];
        }
        return result;
    }

    internal static long[] Filled(int count, long value) => [.. Enumerable.Repeat(value, count)];
}
