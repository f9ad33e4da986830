using LoKO.Server.Tests.Tools;
using LoKO.Engine.Onnx.Ops;
using LoKO.Server.Hosting;
using Xunit.Abstractions;

namespace LoKO.Server.Tests;

/// <summary>
/// A model of LoKO:Models that cannot be served stops the start with one line naming its setting: in process (the
/// exception), and the built server as a child process (exit code and message).
/// </summary>
public sealed class ModelValidationTests(ITestOutputHelper output) : IDisposable
{
    readonly string _directory = Directory.CreateTempSubdirectory("loko-model-checks-").FullName;

    public static TheoryData<string, string, string> Cases => new()
    {
        { "missing-file", "LoKO:Models:bad:Path", "does not exist" },
        { "feature-node", "LoKO:Models:bad:Features:Node", "'nowhere' is neither a node nor a value any node computes" },
        { "target-glob", "LoKO:Models:bad:Targets", "'attention.*' matches no LoRA site; the sites are layer1, layer2" },
        { "target-after-features", "LoKO:Models:bad:Targets", "'classifier' matches only sites after the feature node 'hidden'" },
        { "pooling", "LoKO:Models:bad:Features:Pooling", "'globalAverage' does not fit a text model: one of mean, cls, none" },
        { "no-vocab", "LoKO:Models:bad:Vocab", "is required for a text model" },
        { "image-size", "LoKO:Models:bad:Image:Size", "16 does not fit the graph's input pixels: float32[1,3,8,8]" },
        { "preset-name", "LoKO:Models:resnet18", "'resnet18' is a built-in preset" },
        { "targets-not-a-list", "LoKO:Models:bad:Targets", "takes a list" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task AModelThatCannotBeServedStopsTheStartNamingItsSetting(string problem, string key, string message)
    {
        var (text, vocab) = TinyOnnxModels.WriteText(_directory, seed: 1, ["a few words"]);
        var image = TinyOnnxModels.WriteImage(_directory, seed: 1);
        string[] textModel = [$"--LoKO:Models:bad:Path={text}", $"--LoKO:Models:bad:Vocab={vocab}", "--LoKO:Models:bad:Features:Node=hidden"];
        string[] settings = problem switch
        {
            "missing-file" => [$"--LoKO:Models:bad:Path={Path.Combine(_directory, "absent.onnx")}", $"--LoKO:Models:bad:Vocab={vocab}", "--LoKO:Models:bad:Features:Node=hidden"],
            "feature-node" => [.. textModel[..2], "--LoKO:Models:bad:Features:Node=nowhere"],
            "target-glob" => [.. textModel, "--LoKO:Models:bad:Targets:0=attention.*"],
            "target-after-features" => [.. textModel, "--LoKO:Models:bad:Targets:0=layer1", "--LoKO:Models:bad:Targets:1=classifier"],
            "pooling" => [.. textModel, "--LoKO:Models:bad:Features:Pooling=globalAverage"],
            "no-vocab" => [$"--LoKO:Models:bad:Path={text}", "--LoKO:Models:bad:Features:Node=hidden"],
            "image-size" => [$"--LoKO:Models:bad:Path={image}", "--LoKO:Models:bad:Image:Size=16", "--LoKO:Models:bad:Features:Node=features"],
            "preset-name" => [$"--LoKO:Models:resnet18:Path={image}", "--LoKO:Models:resnet18:Image:Size=8", "--LoKO:Models:resnet18:Features:Node=features"],
            "targets-not-a-list" => [.. textModel, "--LoKO:Models:bad:Targets=layer1"],
            _ => throw new ArgumentOutOfRangeException(nameof(problem)),
        };
        var refused = await Assert.ThrowsAsync<InvalidSettingException>(() => LoKOTestServer.StartAsync(Path.Combine(_directory, "data"), settings));
        output.WriteLine(refused.Message);
        Assert.Equal(key, refused.Key);
        Assert.StartsWith(key + ": ", refused.Message);
        Assert.Contains(message, refused.Message);
        Assert.DoesNotContain('\n', refused.Message);
    }

    [Fact]
    public async Task TheServerRefusesToStartOnAnUnsupportedOpNamingNodeOpAndOpset()
    {
        Assert.False(OpRegistry.TryGet(TinyOnnxModels.UnsupportedOp, out _), $"{TinyOnnxModels.UnsupportedOp} is supported now: pick another op for this test");
        var model = TinyOnnxModels.WriteUnsupported(_directory);
        var run = await ServerBinary.RunToExitAsync(Path.Combine(_directory, "data"), [$"--LoKO:AdminKey={LoKOTestServer.AdminKey}", $"--LoKO:Models:odd:Path={model}", "--LoKO:Models:odd:Image:Size=8", "--LoKO:Models:odd:Features:Node=y"]);
        var lines = run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        output.WriteLine($"exit code {run.ExitCode}; stderr:\n{string.Join('\n', lines)}\nstdout:\n{run.Stdout}");
        Assert.Equal(InvalidSettingException.ExitCode, run.ExitCode);
        var line = Assert.Single(lines);
        Assert.Equal(
            $"LoKO cannot start: LoKO:Models:odd:Path: '{model}': node 'mix' (op {TinyOnnxModels.UnsupportedOp}, opset {TinyOnnxModels.Opset}): operator is not supported",
            line);
    }

    public void Dispose()
    {
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }
}
