using LoKO.Engine.Lora;
using LoKO.Engine.Models;
using LoKO.Engine.Onnx;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LoKO.Engine.Tests.Models;

/// <summary>What the tests of fused and packed plans run on both plans and compare.</summary>
static class PlanRuns
{
    /// <summary>A node-by-node executor of the model's graph, taking the input sizes the preset's own executor takes.</summary>
    public static GraphExecutor Unfused(BaseModel model) => Relaxed(new GraphExecutor(model.Graph, model.Device, fuse: false), model);

    /// <summary>The executor, every input dim of the model's graph made free (as the preset's own executor has them).</summary>
    public static GraphExecutor Relaxed(GraphExecutor executor, BaseModel model)
    {
        foreach (var input in model.Graph.Inputs)
            executor.RelaxInputDims(input.Name, [.. Enumerable.Range(0, input.Dims?.Length ?? 0)]);
        return executor;
    }

    /// <summary>max |actual − expected| at most <paramref name="tolerance"/> of the expected's max |value| (written to the output).</summary>
    public static void AssertCloseToScale(ITestOutputHelper output, Tensor actual, Tensor expected, double tolerance, string what)
    {
        using var scope = NewDisposeScope();
        var e = expected.to(ScalarType.Float64);
        double scale = e.abs().max().item<double>();
        double diff = (actual.to(ScalarType.Float64) - e).abs().max().item<double>();
        output.WriteLine($"{what}: max |diff| {diff:E2}, scale {scale:E2}");
        Assert.True(scale > 0, $"{what}: the reference is all zero");
        Assert.True(diff <= tolerance * scale, $"{what}: differ by {diff:E2} (scale {scale:E2}, tolerance {tolerance:E0} of it)");
    }

    /// <summary>Pooled features and ∂(cross-entropy)/∂θ of one learning pass through the given executor.</summary>
    public static (Tensor Features, Tensor Gradient) FeaturesAndGradient(BaseModel model, GraphExecutor executor, EncodedInputs inputs,
                                                                         TenantAdapter adapter, Tensor labels)
    {
        var value = executor.Run(inputs.Feeds, [model.Pooling.GraphValue], adapter)[model.Pooling.GraphValue];
        var features = model.Pooling.Pool(value, inputs);
        var loss = nn.functional.cross_entropy(adapter.Head(features), labels);
        return (features.detach(), autograd.grad([loss], [adapter.Theta])[0]);
    }
}
