using LoKO.Engine.Lora;
using LoKO.Engine.Models;
using LoKO.Engine.Onnx;
using static TorchSharp.torch;

namespace LoKO.Engine.Tests.Models;

/// <summary>What the tests of fused and packed plans run on both plans and compare.</summary>
static class PlanRuns
{
    /// <summary>A node-by-node executor of the model's graph, taking the input sizes the preset's own executor takes.</summary>
    public static GraphExecutor Unfused(BaseModel model)
    {
        var executor = new GraphExecutor(model.Graph, model.Device, fuse: false);
        foreach (var input in model.Graph.Inputs)
            executor.RelaxInputDims(input.Name, [.. Enumerable.Range(0, input.Dims?.Length ?? 0)]);
        return executor;
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
