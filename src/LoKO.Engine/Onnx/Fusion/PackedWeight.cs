using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace LoKO.Engine.Onnx.Fusion;

/// <summary>
/// A frozen float32 MatMul weight [in, out] in MKL's packed form, and the product x·W + b with it. Only where
/// nothing needs a gradient through the product (<see cref="Takes"/>): the packed product has no backward, so a
/// learning step whose input carries one keeps the plain linear, whose backward is exact.
/// </summary>
internal sealed class PackedWeight : IDisposable
{
    readonly int _in, _out;
    readonly IntPtr _allocation;
    IntPtr _buffer;
    long _products;

    const int Alignment = 64;

    PackedWeight(int inFeatures, int outFeatures, IntPtr allocation, IntPtr buffer) =>
        (_in, _out, _allocation, _buffer) = (inFeatures, outFeatures, allocation, buffer);

    /// <summary>Products run packed so far (how tests see which path a step took).</summary>
    public long Products => Interlocked.Read(ref _products);

    /// <summary>Packs <paramref name="weight"/>, a CPU float32 [in, out] tensor.</summary>
    public static PackedWeight Pack(Tensor weight)
    {
        int k = checked((int)weight.shape[0]), n = checked((int)weight.shape[1]);
        long bytes = MklPackedGemm.PackedBytes(n, k);
        // 64-byte aligned, as mkl_malloc gives. The size asked for is a bound (MiniLM's 384×384: 7.9 MB for 0.6 MB of
        // weight); pages MKL never writes stay unmapped, so resident memory grows by about the weight's own size.
        var allocation = Marshal.AllocHGlobal((nint)(bytes + Alignment));
        var buffer = (IntPtr)(((long)allocation + Alignment - 1) & ~(long)(Alignment - 1));
        using var source = weight.contiguous();
        MklPackedGemm.PackB(n, k, MklPackedGemm.DataPointer(source), buffer);
        return new PackedWeight(k, n, allocation, buffer);
    }

    /// <summary>Whether the packed product may stand in for linear(x, W, b) here.</summary>
    public bool Takes(Tensor x, Tensor bias) =>
        _buffer != IntPtr.Zero && x.device_type == TorchSharp.DeviceType.CPU && x.dtype == ScalarType.Float32
        && bias.device_type == TorchSharp.DeviceType.CPU && bias.dtype == ScalarType.Float32
        && x.dim() >= 1 && x.shape[^1] == _in && x.numel() / _in <= int.MaxValue
        && !(is_grad_enabled() && (x.requires_grad || bias.requires_grad));

    /// <summary>x·W + b over x's last dim, for an x that <see cref="Takes"/> accepts.</summary>
    public Tensor Linear(Tensor x, Tensor bias)
    {
        int m = (int)(x.numel() / _in);
        var shape = x.shape.ToArray();
        shape[^1] = _out;
        // Bias first, then C := A·B + 1·C: one pass over the output, as addmm makes it. A fresh tensor, never
        // contiguous(): for one row the expanded bias is already contiguous, and MKL would write into the bias itself.
        using var broadcast = bias.expand(shape);
        var y = empty(shape, ScalarType.Float32);
        y.copy_(broadcast);
        if (m == 0) return y;
        using var a = x.contiguous();
        MklPackedGemm.Compute(m, _out, _in, MklPackedGemm.DataPointer(a), _buffer, 1f, MklPackedGemm.DataPointer(y));
        Interlocked.Increment(ref _products);
        return y;
    }

    public void Dispose()
    {
        if (_buffer == IntPtr.Zero) return;
        _buffer = IntPtr.Zero;
        Marshal.FreeHGlobal(_allocation);
    }
}
