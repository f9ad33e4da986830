using LoKO.Engine.Lora;
using LoKO.Engine.Models;
using LoKO.Engine.Onnx;
using LoKO.Engine.Presets;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LoKO.Engine.Tests.Onnx;

/// <summary>
/// Graphs without their weights: the shipped presets loaded with weights drawn from a seed have the shapes of the real
/// ones and run; a stripped copy is small and loads to the very same values; the generated BERT-base encoder runs
/// with the minilm-l6 export's fusions and sites.
/// </summary>
public sealed class WeightlessGraphTests(ITestOutputHelper output) : IDisposable
{
    readonly string _directory = Directory.CreateTempSubdirectory("loko-weightless-").FullName;

    [Fact]
    public void AWeightlessResNet18HasTheRealShapesRunsAndItsStrippedCopyLoadsToTheSameValues()
    {
        using var real = OnnxGraph.Load(ModelAssets.ResNet18Path);
        using var drawn = OnnxGraph.Load(ModelAssets.ResNet18Path, weightSeed: 3);
        Assert.Null(real.WeightSeed);
        Assert.Equal(3, drawn.WeightSeed);
        SameShapes(real, drawn, out int replaced);
        Assert.True(replaced >= 100, $"{replaced} initializers drawn");

        var stripped = Path.Combine(_directory, "resnet18.onnx");
        ModelPresets.WriteStripped(ModelPresets.ResNet18, stripped, seed: 3);
        long size = new FileInfo(stripped).Length;
        output.WriteLine($"resnet18: {new FileInfo(ModelAssets.ResNet18Path).Length:N0} bytes, stripped {size:N0}; {replaced} initializers drawn");
        Assert.True(size < 100_000, $"the stripped copy has {size:N0} bytes");
        using var fromStripped = OnnxGraph.Load(stripped);
        Assert.Equal(3, fromStripped.WeightSeed);
        foreach (var (name, t) in drawn.Initializers)
            Assert.True(t.eq(fromStripped.Initializers[name]).all().item<bool>(), $"'{name}' differs between the graph drawn from seed 3 and its stripped copy");

        using var scope = NewDisposeScope();
        using var executor = new GraphExecutor(fromStripped);
        var pixels = randn(1, 3, 224, 224, generator: new Generator(5)) * 50;
        var y = executor.Run(new Dictionary<string, Tensor> { [fromStripped.Inputs[0].Name] = pixels })[fromStripped.Outputs[0].Name];
        Assert.Equal([1L, 512, 1, 1], y.shape);
        Assert.True(y.isfinite().all().item<bool>());
        Assert.True(y.abs().max().item<float>() > 0, "the drawn weights give an all-zero output");
    }

    [Fact]
    public void AWeightlessMiniLmHasTheRealShapesAndGivesOtherFeaturesOfTheSameShape()
    {
        using var real = ModelPresets.Load(ModelPresets.MiniLmL6, new PresetOptions { MaxTokens = 16 });
        using var drawn = ModelPresets.Load(ModelPresets.MiniLmL6, new PresetOptions { MaxTokens = 16, WeightSeed = 1 });
        SameShapes(real.Graph, drawn.Graph, out int replaced);
        Assert.Equal(real.Sites.Select(s => s.Name), drawn.Sites.Select(s => s.Name));

        using var scope = NewDisposeScope();
        using var inputs = real.Encode([new TextInput("the printer is out of paper"), new TextInput("lentil soup")]);
        var a = real.Features(inputs);
        var b = drawn.Features(inputs);
        output.WriteLine($"minilm-l6: {replaced} initializers drawn; feature std real {a.std().item<float>():F4}, drawn {b.std().item<float>():F4}");
        Assert.Equal(a.shape, b.shape);
        Assert.True(b.isfinite().all().item<bool>());
        Assert.False(a.allclose(b, rtol: 0, atol: 1e-3), "drawn weights gave the real model's features");
        Assert.InRange(b.std().item<float>(), 1e-3f, 100f);
    }

    [Fact]
    public void TheSyntheticBertBaseRunsWithMiniLmsFusionsAndSitesAtBertBaseSize()
    {
        using var model = ModelPresets.Load(ModelPresets.SyntheticBertBase, new PresetOptions { MaxTokens = 16 });
        long parameters = model.Graph.Initializers.Values.Where(t => t.is_floating_point()).Sum(t => t.numel());
        output.WriteLine($"synthetic-bert-base: {model.Graph.Nodes.Count} nodes, {parameters:N0} parameters, {model.Sites.Count} sites");
        Assert.InRange(parameters, 105_000_000, 115_000_000);
        Assert.Equal(72, model.Sites.Count);
        Assert.Contains("encoder.layer.11.attention.self.value", model.Sites.Select(s => s.Name));

        var plan = model.Executor.PlanFor(["last_hidden_state"]);
        Assert.Equal(25, plan.Steps.Count(s => s.Fused && s.OpType == "LayerNormalization"));
        Assert.Equal(12, plan.Steps.Count(s => s.Fused && s.OpType == "Gelu"));
        Assert.Equal(12, plan.Steps.Count(s => s.Fused && s.OpType == "Attention"));
        // Query, key and value read one input: one product per layer; the other three linears of a layer alone.
        Assert.Equal(12, plan.Steps.Count(s => s.Fused && s.OpType == "MatMul+Add×3"));
        Assert.Equal(36, plan.Steps.Count(s => s.Fused && s.OpType == "MatMul+Add"));

        using var scope = NewDisposeScope();
        using var inputs = model.Encode([new TextInput("the printer is out of paper"), new TextInput("lentil soup with bread")]);
        var features = model.Features(inputs);
        Assert.Equal([2L, 768], features.shape);
        Assert.True(features.isfinite().all().item<bool>());
        using var adapter = model.CreateAdapter(new LoraOptions(), outputs: 2, seed: 1);
        Assert.Equal(24, adapter.Layout.Sites.Count);
        var logits = model.Forward(inputs, adapter);
        Assert.Equal([2L, 2], logits.shape);
        // The unfused graph computes the same features: the generated patterns are the ones the fusions stand for.
        using var unfused = new GraphExecutor(model.Graph, fuse: false);
        var reference = model.Pooling.Pool(unfused.Run(inputs.Feeds, ["last_hidden_state"])["last_hidden_state"], inputs);
        double scale = reference.abs().max().item<float>();
        Assert.True((features - reference).abs().max().item<float>() <= 1e-4 * scale, "fused and unfused features differ");
    }

    static void SameShapes(OnnxGraph real, OnnxGraph drawn, out int replaced)
    {
        replaced = 0;
        Assert.Equal(real.Initializers.Keys.Order(), drawn.Initializers.Keys.Order());
        foreach (var (name, t) in real.Initializers)
        {
            var d = drawn.Initializers[name];
            Assert.Equal(t.shape, d.shape);
            Assert.Equal(t.dtype, d.dtype);
            if (t.is_floating_point() && t.numel() > 1) replaced++;
            else Assert.True(t.eq(d).all().item<bool>(), $"'{name}' should be kept as the file has it");
        }
    }

    public void Dispose()
    {
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }
}
