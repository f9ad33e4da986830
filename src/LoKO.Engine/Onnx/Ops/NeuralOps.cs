using LoKO.Engine.Platform;
using static TorchSharp.torch;

namespace LoKO.Engine.Onnx.Ops;

/// <summary>Linear algebra, convolution, normalisation, pooling and softmax.</summary>
static class NeuralOps
{
    public static IEnumerable<OpKernel> Kernels() =>
    [
        new("MatMul", c => [matmul(c.Input(0), c.Input(1).OnDeviceOf(c.Input(0)))]),
        new("Gemm", Gemm),
        new("Conv", c => [ConvGeometry.Of(c.Node, (int)c.Input(0).dim() - 2).Apply(c.Input(0), c.Input(1), c.OptionalInput(2))]),
        new("BatchNormalization", BatchNormalization),
        new("MaxPool", MaxPool),
        new("AveragePool", AveragePool),
        new("GlobalAveragePool", c => [c.Input(0).mean([.. Enumerable.Range(2, (int)c.Input(0).dim() - 2).Select(i => (long)i)], keepdim: true)]),
        new("Softmax", Softmax),
        new("LayerNormalization", LayerNormalization, 17),
    ];

    static Tensor[] Gemm(OpContext c)
    {
        var a = c.Input(0);
        var b = c.Input(1);
        if (c.Node.Int("transA", 0) == 1) a = a.t();
        if (c.Node.Int("transB", 0) == 1) b = b.t();
        var y = matmul(a, b);
        float alpha = c.Node.Float("alpha", 1f), beta = c.Node.Float("beta", 1f);
        if (alpha != 1f) y = y.Times(alpha);
        if (c.OptionalInput(2) is { } bias) y = beta == 1f ? y.Plus(bias) : y.Plus(bias.Times(beta));
        return [y];
    }

    static Tensor[] BatchNormalization(OpContext c)
    {
        if (c.Node.Outputs.Skip(1).Any(o => o != "")) throw c.Fail("training-mode outputs (running mean/var) are not supported");
        if (c.Opset < 9 && c.Node.Int("spatial", 1) != 1) throw c.Fail("spatial=0 is not supported");
        float eps = c.Node.Float("epsilon", 1e-5f);
        return [nn.functional.batch_norm(c.Input(0), c.Input(3), c.Input(4), c.Input(1), c.Input(2), training: false, eps: eps)];
    }

    static (long[] kernel, long[] strides, long[] pads, long[] dilations) Pooling(OpContext c, Tensor x)
    {
        long[] kernel = c.Node.Ints("kernel_shape") ?? throw c.Fail("attribute 'kernel_shape' is required");
        long[] strides = c.Node.Ints("strides") ?? ConvGeometry.Filled(kernel.Length, 1);
        long[] dilations = c.Node.Ints("dilations") ?? ConvGeometry.Filled(kernel.Length, 1);
        var geometry = new ConvGeometry(strides, dilations, c.Node.Ints("pads"), c.Node.String("auto_pad", "NOTSET"), 1);
        if (c.Node.Int("ceil_mode", 0) != 0) throw c.Fail("ceil_mode=1 is not supported");
        if (kernel.Length != 2) throw c.Fail("only 2-D pooling is supported");
        return (kernel, strides, geometry.ResolvePads(x.shape[2..], kernel), dilations);
    }

    static Tensor[] MaxPool(OpContext c)
    {
        if (c.Node.Outputs.Count > 1 && c.Node.Outputs[1] != "") throw c.Fail("the Indices output is not supported");
        var x = c.Input(0);
        var (kernel, strides, pads, dilations) = Pooling(c, x);
        // LibTorch's NCHW max pool is scalar code (10 ms on ResNet's first pool); its channels-last one is
        // vectorised. Same windows, same maxima.
        x = ChannelsLast(x);
        // torch's own padding never wins a max, as ONNX's pads do not, but it must be symmetric and at most
        // half the (dilated) kernel; pad with -inf explicitly otherwise (asymmetric CNTK exports).
        bool symmetric = pads[0] == pads[2] && pads[1] == pads[3]
            && pads[0] * 2 <= (kernel[0] - 1) * dilations[0] + 1 && pads[1] * 2 <= (kernel[1] - 1) * dilations[1] + 1;
        long[] padding = symmetric ? pads[..2] : [0, 0];
        if (!symmetric) x = nn.functional.pad(x, ConvGeometry.TorchPadOrder(pads), TorchSharp.PaddingModes.Constant, double.NegativeInfinity);
        return [nn.functional.max_pool2d(x, kernel, strides, padding, dilations).contiguous()];
    }

    /// <summary>The same values of an NCHW tensor laid out NHWC (strides only: shape and indexing are unchanged).</summary>
    static Tensor ChannelsLast(Tensor x) => x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);

    static Tensor[] AveragePool(OpContext c)
    {
        var x = c.Input(0);
        var (kernel, strides, pads, _) = Pooling(c, x);
        bool includePad = c.Node.Int("count_include_pad", 0) == 1;
        if (pads.All(p => p == 0)) return [nn.functional.avg_pool2d(x, kernel, strides)];
        var torchPads = ConvGeometry.TorchPadOrder(pads);
        var sums = nn.functional.avg_pool2d(nn.functional.pad(x, torchPads), kernel, strides);
        if (includePad) return [sums];
        // Divide by the number of real (unpadded) cells under each window.
        using var cells = ones(1, 1, x.shape[2], x.shape[3], dtype: x.dtype, device: x.device);
        using var counts = nn.functional.avg_pool2d(nn.functional.pad(cells, torchPads), kernel, strides);
        return [sums / counts];
    }

    static Tensor[] Softmax(OpContext c)
    {
        var x = c.Input(0);
        if (c.Opset >= 13) return [x.softmax(ShapeOps.Axis(c.Node.Int("axis", -1), x.dim()))];
        // Before opset 13 the input is coerced to 2-D at `axis` and softmax runs over the flattened tail.
        long axis = ShapeOps.Axis(c.Node.Int("axis", 1), x.dim());
        long outer = x.shape[..(int)axis].Aggregate(1L, (a, b) => a * b);
        return [x.reshape(outer, -1).softmax(1).reshape(x.shape)];
    }

    static Tensor[] LayerNormalization(OpContext c)
    {
        var x = c.Input(0);
        long axis = ShapeOps.Axis(c.Node.Int("axis", -1), x.dim());
        if (c.Node.Outputs.Skip(1).Any(o => o != "")) throw c.Fail("the Mean and InvStdDev outputs are not supported");
        return [nn.functional.layer_norm(x, x.shape[(int)axis..], c.OptionalInput(1), c.OptionalInput(2), c.Node.Float("epsilon", 1e-5f))];
    }
}
