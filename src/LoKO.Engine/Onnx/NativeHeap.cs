using System.Runtime.InteropServices;

namespace LoKO.Engine.Onnx;

/// <summary>
/// How glibc's malloc serves LibTorch's tensors. Blocks above its mmap threshold are fresh mappings, every page of which
/// faults in (and is zeroed) on first touch and goes back on free; below it, freed blocks are reused. Fixed at 128 KiB
/// every activation of a text forward (~300 KiB for [48, 1536]) page-faulted afresh: the service learned 1.5× fewer
/// examples per second than at the largest threshold, 32 MiB, where they are reused. What the heap then keeps after a
/// tenant's state is freed (θ, p ~300 KiB; a shared head's Σ ~1.2 MiB) goes back with <see cref="Trim"/>, which the
/// server calls when a tenant leaves memory.
/// </summary>
public static class NativeHeap
{
    const int MmapThreshold = -3; // M_MMAP_THRESHOLD
    /// <summary>glibc's largest mmap threshold on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX): larger settings are ignored.</summary>
    public const int LargestThreshold = 32 * 1024 * 1024;

    /// <summary>Serves blocks up to <see cref="LargestThreshold"/> from the heap, unless MALLOC_MMAP_THRESHOLD_ is set.</summary>
    public static void ReuseLargeBlocks()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") is not null) return;
        try { _ = MallOpt(MmapThreshold, LargestThreshold); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { } // not glibc: its own policy stays
    }

    /// <summary>Hands the whole free pages of every arena back to the system; false where this is not glibc.</summary>
    public static bool Trim()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            _ = MallocTrim(0);
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    static extern int MallOpt(int parameter, int value);

    [DllImport("libc", EntryPoint = "malloc_trim")]
    static extern int MallocTrim(nuint pad);
}
