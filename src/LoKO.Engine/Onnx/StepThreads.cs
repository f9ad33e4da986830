using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace LoKO.Engine.Onnx;

/// <summary>
/// How many of the caller's LibTorch threads one plan step gets. Waking a sleeping OpenMP worker costs tens of
/// microseconds (on a 2-vCPU VM, LayerNorm over 48 tokens took 100 µs at two threads against 18 µs at one), while
/// LibTorch parallelises any op past 32,768 elements and LayerNorm always: a step too small to repay the wake-up
/// runs on the calling thread alone. The count is OpenMP's and MKL's per-thread setting, so other threads' runs
/// and the setting LibTorch's set_num_threads made stay as they were once the run ends.
/// </summary>
internal static class StepThreads
{
    /// <summary>Multiply-adds from which a product (MatMul, Gemm, Conv and their fused steps) may take every thread.</summary>
    public const long ParallelMultiplyAdds = 1L << 24;
    /// <summary>
    /// Multiply-adds from which a packed product hands column panels to <see cref="Fusion.BlockWorkers"/>, whose
    /// awake helpers cost about a microsecond, not an OpenMP wake-up.
    /// </summary>
    public const long ParallelPackedMultiplyAdds = 1L << 20;
    /// <summary>Elements of its largest input from which any other step may take every thread.</summary>
    public const long ParallelElements = 1L << 19;

    static readonly (SetFn Omp, SetFn Mkl, GetFn Max)? s_native = Resolve();

    [ThreadStatic] static int t_runThreads;

    /// <summary>The threads of the run on this thread, set by <see cref="GraphExecutor.Run"/>; 0 outside a run.</summary>
    public static int RunThreads
    {
        get => t_runThreads;
        set => t_runThreads = value;
    }

    /// <summary>The threads a packed product may take: the run's, or outside a run <see cref="Current"/>.</summary>
    public static int Budget => t_runThreads > 0 ? t_runThreads : Current;

    /// <summary>Whether this LibTorch's OpenMP (and MKL) threads can be set per step.</summary>
    public static bool Available => s_native is not null;

    /// <summary>The threads the calling thread's parallel regions take now.</summary>
    public static int Current => s_native?.Max() ?? get_num_threads();

    /// <summary>Sets the calling thread's OpenMP and MKL thread counts, leaving LibTorch's caches alone.</summary>
    public static void Set(int threads)
    {
        if (s_native is not { } n) return;
        n.Omp(threads);
        n.Mkl(threads);
    }

    /// <summary>Whether <paramref name="step"/> on these inputs does enough work to repay waking more threads.</summary>
    public static bool WorthThreads(PlanStep step, Tensor?[] inputs)
    {
        var x = inputs.Length > 0 ? inputs[0] : null;
        var w = inputs.Length > 1 ? inputs[1] : null;
        if (step.MultiplyAddsPerInputElement > 0)
            return x is not null && x.numel() * step.MultiplyAddsPerInputElement >= ParallelMultiplyAdds;
        // A product run as its node, by its weight's size, not as elements: x [.., k] by w [k, n] does n per element
        // of x; a convolution x [N, C, ..] by w [M, C/g, ..] does w's elements over C per element of x (stride 1).
        if (step.OpType is "MatMul" or "Gemm" or "Conv")
            return x is not null && w is not null && x.dim() >= 2 && w.dim() >= 2
                   && x.numel() * (w.numel() / Math.Max(1, step.OpType == "Conv" ? x.shape[1] : x.shape[^1])) >= ParallelMultiplyAdds;
        long largest = 0;
        foreach (var t in inputs) if (t is not null) largest = Math.Max(largest, t.numel());
        return largest >= ParallelElements;
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate void SetFn(int threads);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate int GetFn();

    static (SetFn, SetFn, GetFn)? Resolve() =>
        // OpenMP's are found through libtorch_cpu, which links that runtime. MKL's lower-case mkl_set_num_threads_local
        // is its Fortran entry (an int*): the C one is the mixed-case name.
        Platform.LibTorchCpu.TryGetExport("omp_set_num_threads", out var omp)
        && Platform.LibTorchCpu.TryGetExport("omp_get_max_threads", out var max)
        && Platform.LibTorchCpu.TryGetExport("MKL_Set_Num_Threads_Local", out var mkl)
            ? (Marshal.GetDelegateForFunctionPointer<SetFn>(omp), Marshal.GetDelegateForFunctionPointer<SetFn>(mkl), Marshal.GetDelegateForFunctionPointer<GetFn>(max))
            : null;
}
