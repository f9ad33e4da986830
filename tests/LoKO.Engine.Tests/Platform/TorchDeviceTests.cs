using LoKO.Engine.Platform;
using TorchSharp;

namespace LoKO.Engine.Tests.Platform;

/// <summary>The device setting on this CPU machine: parsed strictly, CUDA refused with its reason, auto on the CPU.</summary>
public sealed class TorchDeviceTests
{
    [Theory]
    [InlineData(null, "cpu", 0)]
    [InlineData("", "cpu", 0)]
    [InlineData(" CPU ", "cpu", 0)]
    [InlineData("cuda", "cuda", 0)]
    [InlineData("cuda:3", "cuda", 3)]
    [InlineData("Auto", "auto", 0)]
    public void DeviceSettingsParse(string? setting, string kind, int index) =>
        Assert.Equal((kind, index), TorchDevice.Parse(setting));

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("cuda0")]
    public void AnythingElseIsRefusedNamingTheSetting(string setting)
    {
        var e = Assert.Throws<DeviceSettingException>(() => TorchDevice.Parse(setting));
        Assert.Equal(DeviceSettingException.DeviceKey, e.Key);
        Assert.Contains($"'{setting}' is not a device", e.Message);
    }

    [Fact]
    public void CudaWithoutACudaLibTorchIsAnErrorAndAutoFallsBackToTheCpuSayingWhy()
    {
        Assert.Null(Environment.GetEnvironmentVariable(LibTorchLoader.EnvironmentVariable));
        var refused = Assert.Throws<DeviceSettingException>(() => TorchDevice.Resolve("cuda:1"));
        Assert.Equal(DeviceSettingException.DeviceKey, refused.Key);
        Assert.StartsWith("'cuda:1' was asked for, but CUDA does not initialise: ", refused.Message);
        Assert.DoesNotContain('\n', refused.Message);

        var auto = TorchDevice.Resolve("auto");
        Assert.Equal(DeviceType.CPU, auto.Device.type);
        Assert.Equal("cpu", auto.Name);
        Assert.Contains("CUDA does not initialise", auto.FallBack);
        Assert.Null(TorchDevice.Resolve("cpu").FallBack);
    }

    [Fact]
    public void ACpuOnlyLibTorchFolderIsRefusedForCudaNamingTheCudaLibrary()
    {
        var folder = Directory.CreateTempSubdirectory("loko-libtorch-").FullName;
        try
        {
            foreach (var name in LibTorchLoader.CpuLibraries) File.WriteAllBytes(Path.Combine(folder, name), []);
            var e = Assert.Throws<DeviceSettingException>(() => LibTorchLoader.Load(folder, cuda: true));
            Assert.Equal(DeviceSettingException.LibTorchDirectoryKey, e.Key);
            Assert.StartsWith($"'{folder}' holds no libc10_cuda.so (a CUDA LibTorch has it; is this a CPU-only one?)", e.Message);
            Assert.Null(LibTorchLoader.Loaded);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
