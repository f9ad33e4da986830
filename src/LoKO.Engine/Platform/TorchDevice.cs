using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace LoKO.Engine.Platform;

/// <summary>
/// The device a process computes on, resolved once at start from a setting: <c>cpu</c> (the default), <c>cuda</c>,
/// <c>cuda:N</c> or <c>auto</c> (CUDA when it initialises, else the CPU, with the reason in <see cref="FallBack"/>).
/// Asking for CUDA where it cannot run is an error, never a silent CPU.
/// </summary>
public sealed record TorchDevice(Device Device, string? FallBack = null)
{
    public const string Cpu = "cpu";
    public const string Cuda = "cuda";
    public const string Auto = "auto";

    /// <summary>How the device is written: "cpu", "cuda:0".</summary>
    public string Name => Device.type == DeviceType.CUDA ? $"cuda:{Math.Max(0, Device.index)}" : Cpu;

    public static TorchDevice CpuDevice { get; } = new(CPU);

    /// <summary>
    /// Checks <paramref name="setting"/>, loads the LibTorch folder if one is configured (<paramref name="libTorchDirectory"/>,
    /// else <see cref="LibTorchLoader.EnvironmentVariable"/>), lets MKL take its fastest CPU kernels (<see cref="MklVendorCheck"/>), then opens the device. Call before any other torch call.
    /// Throws <see cref="DeviceSettingException"/> with one line naming what is missing.
    /// </summary>
    public static TorchDevice Resolve(string? setting, string? libTorchDirectory = null)
    {
        var (kind, index) = Parse(setting);
        var directory = LibTorchLoader.Configured(libTorchDirectory);
        if (directory is not null) LibTorchLoader.Load(directory, cuda: kind == Cuda);
        MklVendorCheck.Apply();
        if (kind == Cpu) return CpuDevice;

        var problem = CudaProblem(directory);
        if (kind == Auto)
            return problem is null ? new TorchDevice(new Device(DeviceType.CUDA, 0)) : new TorchDevice(CPU, problem);
        if (problem is not null)
            throw new DeviceSettingException(DeviceSettingException.DeviceKey, $"'{setting!.Trim()}' was asked for, but {problem}");
        int count = cuda.device_count();
        if (index >= count)
            throw new DeviceSettingException(DeviceSettingException.DeviceKey, $"'{setting!.Trim()}' was asked for, but this machine has {count} CUDA device{(count == 1 ? "" : "s")} (cuda:0{(count > 1 ? $" … cuda:{count - 1}" : "")})");
        return new TorchDevice(new Device(DeviceType.CUDA, index));
    }

    /// <summary>The kind (cpu, cuda, auto) and device index; throws on anything else.</summary>
    public static (string Kind, int Index) Parse(string? setting)
    {
        var s = setting?.Trim().ToLowerInvariant();
        if (string.IsNullOrEmpty(s) || s == Cpu) return (Cpu, 0);
        if (s is Cuda or Auto) return (s, 0);
        if (s.StartsWith(Cuda + ":", StringComparison.Ordinal) &&
            int.TryParse(s.AsSpan(Cuda.Length + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int n))
            return (Cuda, n);
        throw new DeviceSettingException(DeviceSettingException.DeviceKey, $"'{setting}' is not a device: cpu (the default), cuda, cuda:N or auto");
    }

    const string EmptyTrace = "Trace from LoadNativeBackend:";

    /// <summary>Why CUDA cannot run here, or null when it can.</summary>
    static string? CudaProblem(string? directory)
    {
        string where = directory is null
            ? $"; no CUDA LibTorch is loaded (name one with LibTorchDirectory or {LibTorchLoader.EnvironmentVariable}, e.g. a PyTorch installation's torch/lib)"
            : $" (LibTorch of '{Path.GetFullPath(directory)}')";
        try
        {
            // TorchSharp's own load of a CUDA backend fails silently; this call says why.
            InitializeDeviceType(DeviceType.CUDA);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // TorchSharp appends its loader's trace, empty when nothing was tried.
            var reason = e.Message.ReplaceLineEndings(" ").Trim();
            if (reason.EndsWith(EmptyTrace, StringComparison.Ordinal)) reason = reason[..^EmptyTrace.Length].Trim();
            return $"CUDA does not initialise: {reason.TrimEnd('.')}{where}";
        }
        if (!cuda.is_available()) return $"CUDA is not available{where}";
        if (cuda.device_count() == 0) return $"no CUDA device is visible{where}";
        return null;
    }
}
