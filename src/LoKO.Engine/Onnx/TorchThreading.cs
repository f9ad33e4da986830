using System.Runtime.InteropServices;

namespace LoKO.Engine.Onnx;

/// <summary>
/// How LibTorch's OpenMP threads wait between parallel regions. By default they spin; on a box shared with
/// other work (more runnable threads than cores) a spinning thread takes the core from the one it waits for,
/// and every op pays a scheduler slice: measured on 2 shared cores, MiniLM at 2 threads ran 15× slower than
/// at 1. Sleeping threads cost a wake-up per op instead.
/// </summary>
public static class TorchThreading
{
    /// <summary>
    /// Asks OpenMP for passive waiting unless OMP_WAIT_POLICY is already set. OpenMP reads it once, when
    /// LibTorch loads, so call this before the first TorchSharp call of the process.
    /// </summary>
    public static void PreferSleepingWorkers()
    {
        if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null) return;
        // The managed environment is not the process's: OpenMP reads the C library's.
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()) _ = SetEnv("OMP_WAIT_POLICY", "PASSIVE", 0);
        Environment.SetEnvironmentVariable("OMP_WAIT_POLICY", "PASSIVE");
    }

    [DllImport("libc", EntryPoint = "setenv")]
    static extern int SetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);
}
