using System.Net;
using LoKO.Server.Hosting;
using LoKO.Server.Tests.Tools;
using Xunit.Abstractions;

namespace LoKO.Server.Tests;

/// <summary>
/// LoKO:Device and LoKO:LibTorchDirectory on this CPU machine: CUDA asked for stops the built server with one line (never
/// a silent CPU), a bad value or a folder without LibTorch names its key, and auto serves on the CPU and says so in
/// /readyz and the tenant description.
/// </summary>
public sealed class DeviceSettingTests(ITestOutputHelper output) : IDisposable
{
    readonly string _directory = Directory.CreateTempSubdirectory("loko-device-").FullName;

    [Fact]
    public async Task CudaAskedForOnAMachineWithoutItStopsTheServerWithOneLine()
    {
        var run = await ServerBinary.RunToExitAsync(Path.Combine(_directory, "data"), [$"--LoKO:AdminKey={LoKOTestServer.AdminKey}", "--LoKO:Device=cuda"]);
        var lines = run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        output.WriteLine($"exit code {run.ExitCode}; stderr:\n{string.Join('\n', lines)}\nstdout:\n{run.Stdout}");
        Assert.Equal(InvalidSettingException.ExitCode, run.ExitCode);
        var line = Assert.Single(lines);
        Assert.StartsWith("LoKO cannot start: LoKO:Device: 'cuda' was asked for, but CUDA does not initialise: ", line);
        Assert.Contains("no CUDA LibTorch is loaded (name one with LibTorchDirectory or LOKO_LIBTORCH_DIR", line);
        // Nothing was served: the refusal comes before the data directory is set up.
        Assert.False(File.Exists(Path.Combine(_directory, "data", "loko.db")));
    }

    [Theory]
    [InlineData("bogus")]
    [InlineData("cuda:x")]
    [InlineData("gpu")]
    public async Task AnUnknownDeviceIsRefusedNamingTheKey(string device)
    {
        var refused = await Assert.ThrowsAsync<InvalidSettingException>(() =>
            LoKOTestServer.StartAsync(Path.Combine(_directory, "data"), $"--LoKO:Device={device}"));
        output.WriteLine(refused.Message);
        Assert.Equal("LoKO:Device", refused.Key);
        Assert.Equal($"LoKO:Device: '{device}' is not a device: cpu (the default), cuda, cuda:N or auto", refused.Message);
    }

    [Fact]
    public async Task ALibTorchFolderWithoutTheLibrariesIsRefusedNamingTheMissingFile()
    {
        var empty = Directory.CreateDirectory(Path.Combine(_directory, "empty-lib")).FullName;
        var refused = await Assert.ThrowsAsync<InvalidSettingException>(() =>
            LoKOTestServer.StartAsync(Path.Combine(_directory, "data"), $"--LoKO:LibTorchDirectory={empty}"));
        output.WriteLine(refused.Message);
        Assert.Equal("LoKO:LibTorchDirectory", refused.Key);
        Assert.StartsWith($"LoKO:LibTorchDirectory: '{empty}' holds no libc10.so: ", refused.Message);

        var cudaRefused = await Assert.ThrowsAsync<InvalidSettingException>(() =>
            LoKOTestServer.StartAsync(Path.Combine(_directory, "data"), $"--LoKO:LibTorchDirectory={empty}", "--LoKO:Device=cuda:1"));
        Assert.Contains("holds no libc10.so", cudaRefused.Message);

        var absent = Path.Combine(_directory, "absent");
        var absentRefused = await Assert.ThrowsAsync<InvalidSettingException>(() =>
            LoKOTestServer.StartAsync(Path.Combine(_directory, "data"), $"--LoKO:LibTorchDirectory={absent}"));
        Assert.Equal($"LoKO:LibTorchDirectory: '{absent}' is not a folder", absentRefused.Message);
    }

    [Fact]
    public async Task AutoFallsBackToTheCpuAndSaysSoInReadinessAndTheTenantDescription()
    {
        var (model, vocab) = TinyOnnxModels.WriteText(_directory, seed: 1, ["a few words", "other words"]);
        await using var server = await LoKOTestServer.StartAsync(null, "--LoKO:Device=auto",
            $"--LoKO:Models:tiny-text:Path={model}", $"--LoKO:Models:tiny-text:Vocab={vocab}", "--LoKO:Models:tiny-text:Features:Node=hidden");

        var (ready, readiness) = await server.SendAsync(HttpMethod.Get, "/readyz", null);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        output.WriteLine(readiness.ToString());
        Assert.Equal("cpu", readiness.GetProperty("device").GetString());
        Assert.Equal("Healthy", readiness.GetProperty("status").GetString());
        Assert.Equal("Healthy", readiness.GetProperty("checks").GetProperty("database").GetString());

        var (created, body) = await server.SendAsync(HttpMethod.Post, "/v1/tenants", LoKOTestServer.AdminKey,
            new { tenantId = "on-auto", preset = "tiny-text", labels = new[] { "a", "b" }, optimizer = "loko", lora = new { rank = 2 } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var (described, tenant) = await server.SendAsync(HttpMethod.Get, "/v1/tenants/on-auto", body.GetProperty("apiKey").GetString());
        Assert.Equal(HttpStatusCode.OK, described.StatusCode);
        Assert.Equal("cpu", tenant.GetProperty("device").GetString());
    }

    public void Dispose()
    {
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }
}
