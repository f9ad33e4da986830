using System.Runtime.InteropServices;

namespace LoKO.Engine.Platform;

/// <summary>
/// Loads an existing LibTorch (e.g. a pip PyTorch's torch/lib) by absolute path before the first TorchSharp call, so
/// that TorchSharp's own libLibTorchSharp.so binds to it instead of the CPU LibTorch of the NuGet package. It must run
/// before anything touches <c>torch</c>: once LibTorch is loaded the process cannot switch to another.
/// </summary>
public static class LibTorchLoader
{
    /// <summary>Environment variable naming the folder, when no setting does.</summary>
    public const string EnvironmentVariable = "LOKO_LIBTORCH_DIR";

    /// <summary>What every LibTorch folder holds, in load order.</summary>
    public static IReadOnlyList<string> CpuLibraries { get; } = ["libc10.so", "libtorch_cpu.so", "libtorch.so"];

    /// <summary>What a CUDA LibTorch holds besides; loaded before libtorch.so, as PLATFORM.md's recipe does.</summary>
    public static IReadOnlyList<string> CudaLibraries { get; } = ["libc10_cuda.so", "libtorch_cuda.so"];

    static string? s_loaded;

    /// <summary>The folder loaded in this process, if any.</summary>
    public static string? Loaded => s_loaded;

    /// <summary>The setting if given, else <see cref="EnvironmentVariable"/>; null when neither names a folder.</summary>
    public static string? Configured(string? setting) =>
        !string.IsNullOrWhiteSpace(setting) ? setting
        : Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } env ? env : null;

    /// <summary>
    /// Loads the libraries of <paramref name="directory"/>: the CUDA ones too when <paramref name="cuda"/> (required)
    /// or when present. Throws <see cref="DeviceSettingException"/> naming the first missing or unloadable file.
    /// </summary>
    public static void Load(string directory, bool cuda)
    {
        var full = Path.GetFullPath(directory);
        if (s_loaded == full) return;
        if (s_loaded is not null)
            throw new DeviceSettingException(DeviceSettingException.LibTorchDirectoryKey, $"'{full}': this process already loaded the LibTorch of '{s_loaded}'");
        if (!Directory.Exists(full))
            throw new DeviceSettingException(DeviceSettingException.LibTorchDirectoryKey, $"'{full}' is not a folder");
        foreach (var name in cuda ? CpuLibraries.Concat(CudaLibraries) : CpuLibraries)
            if (!File.Exists(Path.Combine(full, name)))
                throw new DeviceSettingException(DeviceSettingException.LibTorchDirectoryKey,
                    $"'{full}' holds no {name}{(CudaLibraries.Contains(name) ? " (a CUDA LibTorch has it; is this a CPU-only one?)" : "")}: " +
                    $"name the folder of an existing LibTorch, e.g. a PyTorch installation's torch/lib");
        bool withCuda = cuda || CudaLibraries.All(n => File.Exists(Path.Combine(full, n)));
        // libc10 and libtorch_cpu first, then the CUDA parts, libtorch.so last: each finds the ones before it loaded.
        IEnumerable<string> order = withCuda ? [.. CpuLibraries.Take(2), .. CudaLibraries, CpuLibraries[2]] : CpuLibraries;
        foreach (var name in order)
        {
            var path = Path.Combine(full, name);
            try
            {
                NativeLibrary.Load(path);
            }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
            {
                throw new DeviceSettingException(DeviceSettingException.LibTorchDirectoryKey, $"'{path}' does not load: {e.Message.ReplaceLineEndings(" ")}", e);
            }
        }
        s_loaded = full;
    }
}
