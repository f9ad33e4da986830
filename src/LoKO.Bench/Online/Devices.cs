using LoKO.Engine.Platform;

namespace LoKO.Bench.Online;

static class Devices
{
    /// <summary>
    /// `--device cpu|cuda|cuda:N|auto` (default cpu), with the LibTorch of LOKO_LIBTORCH_DIR when set. Call before any
    /// other torch call (<see cref="Threads.Apply"/> included): a LibTorch folder must load first.
    /// </summary>
    public static TorchDevice Resolve(BenchArgs args)
    {
        try
        {
            var device = TorchDevice.Resolve(args.String("device"));
            if (device.FallBack is { } reason) Console.Error.WriteLine($"--device auto: computing on the CPU, {reason}");
            return device;
        }
        catch (DeviceSettingException e)
        {
            throw new ArgumentException($"{(e.Key == DeviceSettingException.DeviceKey ? "--device" : LibTorchLoader.EnvironmentVariable)}: {e.Message}", e);
        }
    }
}
