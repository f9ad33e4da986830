using static TorchSharp.torch;

namespace LoKO.Engine.Onnx.Fusion;

/// <summary>
/// MatMul by a constant [in, out] weight, then Add of a constant [out] bias, as exporters write every
/// Linear layer: one linear (one addmm), whose backward is the same two products without the extra pass
/// over the output. On the CPU a float32 weight runs as MKL's packed GEMM where no gradient flows through it
/// (<see cref="PackedWeight"/>). A hooked MatMul (a LoRA site) is never taken in, so its delta is added exactly where it was.
/// </summary>
internal sealed class MatMulBiasFusion : IFusionPattern
{
    public FusedGroup? Match(OnnxNode node, FusionScope scope)
    {
        if (node.OpType != "MatMul" || node.Inputs.Count != 2 || scope.Constant(node.Inputs[0]) is not null) return null;
        if (scope.Constant(node.Inputs[1]) is not { } w || w.dim() != 2 || !w.is_floating_point()) return null;
        if (scope.SoleConsumer(node.Outputs[0]) is not { OpType: "Add" } add || FusionScope.Other(add, node.Outputs[0]) is not { } bias) return null;
        if (scope.Constant(bias) is not { } b || b.dim() != 1 || b.shape[0] != w.shape[1] || b.dtype != w.dtype) return null;
        // Packed once here, at plan build; a step that needs a gradient through x, or runs elsewhere, takes linear.
        var packed = scope.Derived.Packed.For(node.Inputs[1], w);
        // linear takes the weight as [out, in]: the transposed view, which the product reads as it is.
        return new FusedGroup("MatMul+Add", [node, add], [node.Inputs[0], node.Inputs[1], bias], add.Outputs[0],
            c => packed is not null && packed.Takes(c.Input(0), c.Input(2))
                ? packed.Linear(c.Input(0), c.Input(2))
                : nn.functional.linear(c.Input(0), c.Input(1).t(), c.Input(2)))
        {
            MultiplyAddsPerInputElement = w.shape[1],
        };
    }
}
