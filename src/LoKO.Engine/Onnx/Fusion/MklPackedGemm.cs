using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace LoKO.Engine.Onnx.Fusion;

/// <summary>
/// MKL's packed GEMM (cblas_sgemm_pack / cblas_sgemm_compute), as the LibTorch that TorchSharp loaded exports it.
/// A frozen weight packed once skips the repacking every plain GEMM does per call: measured 10–25 % faster at
/// MiniLM's shapes on one core. Absent (another BLAS, another platform), <see cref="Available"/> is false and
/// callers keep their plain product. MKL's threads are LibTorch's: set_num_threads sets them for the thread
/// that calls it, and a packed product runs on the same thread as the op it replaces.
/// </summary>
internal static class MklPackedGemm
{
    // CBLAS enumerations (mkl_cblas.h).
    const int RowMajor = 101, NoTrans = 111, Packed = 151, BMatrix = 162;
    // The rows of A that packing is told to expect: a product of any rows may use the packed B (measured
    // exact from 1 to 1000 rows); this is a typical batch of tokens.
    const int PackRows = 128;

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate nuint PackGetSizeFn(int identifier, int m, int n, int k);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate void PackFn(int layout, int identifier, int trans, int m, int n, int k, float alpha, IntPtr src, int ld, IntPtr dest);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate void ComputeFn(int layout, int transa, int transb, int m, int n, int k, IntPtr a, int lda, IntPtr b, int ldb, float beta, IntPtr c, int ldc);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate int MaxThreadsFn();

    static readonly (PackGetSizeFn Size, PackFn Pack, ComputeFn Compute, MaxThreadsFn Threads)? s_mkl = Resolve();

    public static bool Available => s_mkl is not null;

    /// <summary>The threads MKL would use on the calling thread now (a check that LibTorch's setting reaches it).</summary>
    public static int MaxThreads => Mkl.Threads();

    /// <summary>Bytes of the packed form of a row-major [k, n] B.</summary>
    public static long PackedBytes(int n, int k) => (long)Mkl.Size(BMatrix, PackRows, n, k);

    /// <summary>Packs a contiguous row-major [k, n] float32 B at <paramref name="src"/> into <paramref name="dest"/>.</summary>
    public static void PackB(int n, int k, IntPtr src, IntPtr dest) => Mkl.Pack(RowMajor, BMatrix, NoTrans, PackRows, n, k, 1f, src, n, dest);

    /// <summary>
    /// C := A·B + beta·C for contiguous row-major A [m, k], B [k, n] packed by <see cref="PackB"/>, and C [m, n] rows
    /// <paramref name="ldc"/> floats apart (a column panel of a wider C).
    /// </summary>
    public static void Compute(int m, int n, int k, IntPtr a, IntPtr packedB, float beta, IntPtr c, int ldc) =>
        Mkl.Compute(RowMajor, NoTrans, Packed, m, n, k, a, k, packedB, n, beta, c, ldc);

    /// <summary>The address of a CPU tensor's first element.</summary>
    public static IntPtr DataPointer(Tensor t) => THSTensor_data(t.Handle);

    static (PackGetSizeFn Size, PackFn Pack, ComputeFn Compute, MaxThreadsFn Threads) Mkl =>
        s_mkl ?? throw new InvalidOperationException("MKL's packed GEMM is not available in this LibTorch");

    static (PackGetSizeFn, PackFn, ComputeFn, MaxThreadsFn)? Resolve()
    {
        // Before MKL's first product, which fixes the kernels it takes.
        Platform.MklVendorCheck.Apply();
        return Platform.LibTorchCpu.TryGetExport("cblas_sgemm_pack_get_size", out var size)
               && Platform.LibTorchCpu.TryGetExport("cblas_sgemm_pack", out var pack)
               && Platform.LibTorchCpu.TryGetExport("cblas_sgemm_compute", out var compute)
               && Platform.LibTorchCpu.TryGetExport("mkl_get_max_threads", out var threads)
            ? (Marshal.GetDelegateForFunctionPointer<PackGetSizeFn>(size), Marshal.GetDelegateForFunctionPointer<PackFn>(pack),
               Marshal.GetDelegateForFunctionPointer<ComputeFn>(compute), Marshal.GetDelegateForFunctionPointer<MaxThreadsFn>(threads))
            : null;
    }

    [DllImport("LibTorchSharp")]
    static extern IntPtr THSTensor_data(IntPtr tensor);
}
