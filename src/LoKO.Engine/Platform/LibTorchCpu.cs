using System.Runtime.InteropServices;

namespace LoKO.Engine.Platform;

/// <summary>
/// C functions of the libtorch_cpu TorchSharp loaded (MKL's, OpenMP's through its dependencies). TorchSharp loads
/// LibTorch on its first call; by its soname the loader then hands back that copy, whichever folder it came from.
/// </summary>
internal static class LibTorchCpu
{
    static readonly Lazy<IntPtr> s_handle = new(() =>
    {
        _ = TorchSharp.torch.get_num_threads();
        return NativeLibrary.TryLoad("libtorch_cpu.so", out var lib) ? lib : IntPtr.Zero;
    });

    /// <summary>The address of <paramref name="name"/> in libtorch_cpu or a library it links; false where there is none.</summary>
    public static bool TryGetExport(string name, out IntPtr address)
    {
        address = IntPtr.Zero;
        return OperatingSystem.IsLinux() && s_handle.Value != IntPtr.Zero && NativeLibrary.TryGetExport(s_handle.Value, name, out address);
    }
}
