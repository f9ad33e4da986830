using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace LoKO.Engine.Platform;

/// <summary>
/// The MKL inside LibTorch asks <c>mkl_serv_intel_cpu_true()</c> before it picks a GEMM kernel, and on any other
/// vendor's CPU it falls back to generic kernels even where the CPU has the AVX2/AVX-512 they need: measured on an
/// AVX-512 AMD EPYC, MiniLM's forward took 16 ms instead of 9.4 ms at one thread. MKL calls that function through
/// libtorch_cpu's procedure linkage table, so pointing its table entry at a function that answers 1 lets MKL choose
/// by the CPU's instruction sets alone, as it does on Intel's. Kernels are then still chosen by CPUID features,
/// and the outputs match ONNX Runtime's as before (tested). Set <see cref="OptOutVariable"/> to 0 to keep MKL's own
/// choice.
/// </summary>
public static class MklVendorCheck
{
    /// <summary>Environment variable that, set to 0, leaves MKL's vendor check alone.</summary>
    public const string OptOutVariable = "LOKO_MKL_ANY_VENDOR";

    internal const string Symbol = "mkl_serv_intel_cpu_true";
    static readonly object s_gate = new();
    static (bool Fast, string Why)? s_outcome;

    /// <summary>What <see cref="Apply"/> found in this process, in a few words (for reports); null before it ran.</summary>
    public static string? Outcome => s_outcome?.Why;

    /// <summary>
    /// Whether MKL now takes the kernels it gives Intel's CPUs: true on an Intel CPU, or where the entry was pointed at
    /// a function that answers 1. Call once LibTorch is loaded and before its first product: MKL keeps its choice.
    /// </summary>
    public static bool Apply()
    {
        lock (s_gate)
        {
            s_outcome ??= Patch();
            return s_outcome.Value.Fast;
        }
    }

    static (bool Fast, string Why) Patch()
    {
        if (Environment.GetEnvironmentVariable(OptOutVariable) == "0") return (false, $"off ({OptOutVariable}=0)");
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return (false, "not Linux on x86-64");
        // The kernels MKL picks for Intel's CPUs of this generation need at least these.
        if (!Avx2.IsSupported || !Fma.IsSupported) return (false, "the CPU has no AVX2 and FMA");
        if (Library() is not var (real, path, @base)) return (false, "no MKL in this LibTorch");
        if (Marshal.GetDelegateForFunctionPointer<AnswerFn>(real)() != 0) return (true, "an Intel CPU: nothing to change");
        ElfJumpSlots image;
        try
        {
            image = ElfJumpSlots.Read(path, Symbol);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or OverflowException)
        {
            return (false, $"libtorch_cpu's tables unreadable: {e.Message}");
        }
        if (image.SlotOffset is not { } offset) return (false, "MKL calls it directly: no table entry");
        if (!image.SlotWritable) return (false, "its table entry is read-only");
        var address = @base + (nint)offset;
        // The entry holds the resolved function or, before its first call, a stub of the library's own.
        var current = Marshal.ReadIntPtr(address);
        if (current != real && (current < @base || current >= @base + (nint)image.MappedBytes))
            return (false, "table entry holds an unexpected address");
        if (AnswerOne() is not { } one) return (false, "no executable page");
        // One aligned 8-byte store: a thread inside MKL now sees the old entry or the new, never half of each.
        Marshal.WriteIntPtr(address, one);
        return (true, "MKL takes the kernels of Intel's CPUs: its vendor check answers 1");
    }

    /// <summary>What MKL's call of its vendor check answers now, through libtorch_cpu's table; null where it cannot be read.</summary>
    internal static int? AnswerNow() =>
        Library() is var (_, path, @base) && ElfJumpSlots.Read(path, Symbol).SlotOffset is { } offset
            ? Marshal.GetDelegateForFunctionPointer<AnswerFn>(Marshal.ReadIntPtr(@base + (nint)offset))()
            : null;

    /// <summary>
    /// The vendor check's address in the libtorch_cpu TorchSharp loaded, that library's file and its load address;
    /// null where it has no MKL.
    /// </summary>
    internal static (IntPtr Check, string Path, IntPtr Base)? Library()
    {
        if (!LibTorchCpu.TryGetExport(Symbol, out var check) || dladdr(check, out var info) == 0 || info.FileName == IntPtr.Zero)
            return null;
        return (check, Marshal.PtrToStringUTF8(info.FileName)!, info.BaseAddress);
    }

    /// <summary><c>mov eax, 1; ret</c> on a page of its own: answering needs no managed code on MKL's threads.</summary>
    static IntPtr? AnswerOne()
    {
        const int ProtRead = 1, ProtWrite = 2, ProtExec = 4, MapPrivate = 2, MapAnonymous = 0x20, Page = 4096;
        var page = mmap(IntPtr.Zero, Page, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, IntPtr.Zero);
        if (page == new IntPtr(-1)) return null;
        Marshal.Copy(new byte[] { 0xB8, 0x01, 0x00, 0x00, 0x00, 0xC3 }, 0, page, 6);
        return mprotect(page, Page, ProtRead | ProtExec) == 0 ? page : null;
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate int AnswerFn();

    [StructLayout(LayoutKind.Sequential)]
    struct DlInfo
    {
        public IntPtr FileName;
        public IntPtr BaseAddress;
        public IntPtr SymbolName;
        public IntPtr SymbolAddress;
    }

    [DllImport("libc", EntryPoint = "dladdr")]
    static extern int dladdr(IntPtr address, out DlInfo info);

    [DllImport("libc", EntryPoint = "mmap", SetLastError = true)]
    static extern IntPtr mmap(IntPtr address, nuint length, int protection, int flags, int fd, IntPtr offset);

    [DllImport("libc", EntryPoint = "mprotect", SetLastError = true)]
    static extern int mprotect(IntPtr address, nuint length, int protection);
}
