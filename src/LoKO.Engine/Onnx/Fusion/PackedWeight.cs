using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace LoKO.Engine.Onnx.Fusion;

/// <summary>
/// A frozen float32 MatMul weight [in, out] in MKL's packed form, and the product x·W + b with it. Only where
/// nothing needs a gradient through the product (<see cref="Takes"/>): the packed product has no backward, so a
/// learning step whose input carries one keeps the plain linear, whose backward is exact. The columns are packed
/// as panels, one per core up to <see cref="MaxPanels"/>: a step that may take several threads runs its panels
/// on <see cref="BlockWorkers"/>, every panel with all of x's rows, so a short input loses nothing to blocking.
/// </summary>
internal sealed class PackedWeight : IDisposable
{
    readonly int _in, _out;
    readonly Panel[] _panels;
    bool _disposed;
    long _products;

    const int Alignment = 64;
    /// <summary>Panels at most, and columns per panel at least: narrower panels lose more in MKL than they gain.</summary>
    const int MaxPanels = 8, MinPanelColumns = 128;

    readonly record struct Panel(int Start, int Width, IntPtr Allocation, IntPtr Buffer);

    PackedWeight(int inFeatures, int outFeatures, Panel[] panels) => (_in, _out, _panels) = (inFeatures, outFeatures, panels);

    /// <summary>Products run packed so far (how tests see which path a step took).</summary>
    public long Products => Interlocked.Read(ref _products);

    /// <summary>The column panels this weight is packed as.</summary>
    public int Panels => _panels.Length;

    /// <summary>Packs <paramref name="weight"/>, a CPU float32 [in, out] tensor, in <paramref name="panels"/> column panels (default: one per core).</summary>
    public static PackedWeight Pack(Tensor weight, int? panels = null)
    {
        int k = checked((int)weight.shape[0]), n = checked((int)weight.shape[1]);
        int count = Math.Clamp(panels ?? Math.Min(Math.Min(Environment.ProcessorCount, MaxPanels), n / MinPanelColumns), 1, Math.Max(1, n / 16));
        var result = new Panel[count];
        for (int p = 0; p < count; p++)
        {
            // Panels as even as 16-column steps allow: MKL's kernels are 16 floats wide.
            int start = p * n / count / 16 * 16, end = p + 1 == count ? n : (p + 1) * n / count / 16 * 16;
            int width = end - start;
            long bytes = MklPackedGemm.PackedBytes(width, k);
            // 64-byte aligned, as mkl_malloc gives. The size asked for is a bound (MiniLM's 384×384: 7.9 MB for 0.6 MB of
            // weight); pages MKL never writes stay unmapped, so resident memory grows by about the weight's own size.
            var allocation = Marshal.AllocHGlobal((nint)(bytes + Alignment));
            var buffer = (IntPtr)(((long)allocation + Alignment - 1) & ~(long)(Alignment - 1));
            using var source = weight.narrow(1, start, width).contiguous();
            MklPackedGemm.PackB(width, k, MklPackedGemm.DataPointer(source), buffer);
            result[p] = new Panel(start, width, allocation, buffer);
        }
        return new PackedWeight(k, n, result);
    }

    /// <summary>Whether the packed product may stand in for linear(x, W, b) here.</summary>
    public bool Takes(Tensor x, Tensor bias) =>
        !_disposed && x.device_type == TorchSharp.DeviceType.CPU && x.dtype == ScalarType.Float32
        && bias.device_type == TorchSharp.DeviceType.CPU && bias.dtype == ScalarType.Float32
        && x.dim() >= 1 && x.shape[^1] == _in && x.numel() / _in <= int.MaxValue
        && !(is_grad_enabled() && (x.requires_grad || bias.requires_grad));

    /// <summary>
    /// x·W + b over x's last dim, for an x that <see cref="Takes"/> accepts, its panels on up to
    /// <paramref name="threads"/> threads (default: the run's, <see cref="StepThreads.Budget"/>) when the product is
    /// big enough to repay handing panels out (<see cref="StepThreads.ParallelPackedMultiplyAdds"/>).
    /// </summary>
    public Tensor Linear(Tensor x, Tensor bias, int? threads = null)
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
        IntPtr pa = MklPackedGemm.DataPointer(a), py = MklPackedGemm.DataPointer(y);
        int caller = StepThreads.Current;
        int wanted = (long)m * _in * _out < StepThreads.ParallelPackedMultiplyAdds ? 1 : Math.Min(threads ?? StepThreads.Budget, _panels.Length);
        void Product(int p) => MklPackedGemm.Compute(m, _panels[p].Width, _in, pa, _panels[p].Buffer, 1f, py + (nint)_panels[p].Start * sizeof(float), _out);
        if (wanted <= 1)
        {
            for (int p = 0; p < _panels.Length; p++) Product(p);
        }
        else
        {
            // Each panel on one MKL thread: the blocks are the parallelism.
            StepThreads.Set(1);
            try
            {
                BlockWorkers.Run(_panels.Length, wanted, Product);
            }
            finally
            {
                StepThreads.Set(caller);
            }
        }
        Interlocked.Increment(ref _products);
        return y;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var p in _panels) Marshal.FreeHGlobal(p.Allocation);
    }
}
