using LoKO.Engine.Platform;
using LoKO.Server.Hosting;

namespace LoKO.Server.Compute;

/// <summary>The device this server computes on (<see cref="LoKOOptions.Device"/>), resolved before any other torch call.</summary>
public static class ServingDevice
{
    /// <summary>Throws <see cref="InvalidSettingException"/> naming LoKO:Device or LoKO:LibTorchDirectory.</summary>
    public static TorchDevice Resolve(LoKOOptions options)
    {
        try
        {
            return TorchDevice.Resolve(options.Device, options.LibTorchDirectory);
        }
        catch (DeviceSettingException e)
        {
            var key = e.Key == DeviceSettingException.LibTorchDirectoryKey && string.IsNullOrWhiteSpace(options.LibTorchDirectory)
                ? LibTorchLoader.EnvironmentVariable
                : $"{LoKOOptions.Section}:{e.Key}";
            throw new InvalidSettingException(key, e.Message, e);
        }
    }
}
