using LoKO.Engine.Platform;
using static TorchSharp.torch;

namespace LoKO.Engine.Onnx.Fusion;

/// <summary>
/// Scaled dot-product attention as BERT exports it: s = MatMul(Q, Kᵀ), s / √d (or s · 1/√d), + mask
/// (optional), Softmax over the last axis, MatMul(·, V). Runs as one scaled_dot_product_attention, which
/// never materialises the probabilities. Kᵀ comes in as the exporter transposed it (a view here).
/// </summary>
internal sealed class AttentionFusion : IFusionPattern
{
    // A scale within this of 1/√d is the one scaled_dot_product_attention applies (float32 constants).
    const double Tolerance = 1e-6;

    public FusedGroup? Match(OnnxNode node, FusionScope scope)
    {
        if (node.OpType != "MatMul" || node.Inputs.Count != 2 || node.Inputs.Any(i => scope.Constant(i) is not null)) return null;
        if (scope.SoleConsumer(node.Outputs[0]) is not { } scaleNode || Scale(scaleNode, node.Outputs[0], scope) is not { } scale) return null;
        List<OnnxNode> nodes = [node, scaleNode];
        string scores = scaleNode.Outputs[0], mask = "";
        if (scope.SoleConsumer(scores) is { OpType: "Add" } addMask && FusionScope.Other(addMask, scores) is { } m && m != scores)
        {
            nodes.Add(addMask);
            (scores, mask) = (addMask.Outputs[0], m);
        }
        if (scope.SoleConsumer(scores) is not { OpType: "Softmax" } softmax || !LastAxis(softmax, scope.Opset, out long axis)) return null;
        if (scope.SoleConsumer(softmax.Outputs[0]) is not { OpType: "MatMul" } pv || pv.Inputs.Count != 2 || pv.Inputs[0] != softmax.Outputs[0]
            || pv.Inputs[1] == softmax.Outputs[0]) return null;
        nodes.AddRange([softmax, pv]);

        return new FusedGroup("Attention", nodes, [node.Inputs[0], node.Inputs[1], mask, pv.Inputs[1]], pv.Outputs[0], c =>
        {
            var (q, kT, bias, v) = (c.Input(0), c.Input(1), c.OptionalInput(2), c.Input(3));
            long d = q.shape[^1];
            bool fits = q.dim() == 4 && kT.dim() == 4 && v.dim() == 4 && (axis == -1 || axis == 3)
                && Math.Abs(scale - 1 / Math.Sqrt(d)) <= Tolerance && (bias is null || bias.dtype == q.dtype);
            if (fits) return nn.functional.scaled_dot_product_attention(q, kT.transpose(-2, -1), v, bias);
            // Another scale or rank: what the nodes compute, one by one.
            var s = matmul(q, kT).Times(scale);
            if (bias is not null) s = s.Plus(bias);
            return matmul(Softmax(s, axis, c.Opset), v);
        });
    }

    /// <summary>The factor of s / c or s · c (either operand order for Mul) with a scalar constant c.</summary>
    static double? Scale(OnnxNode node, string scores, FusionScope scope)
    {
        if (node.Inputs.Count != 2) return null;
        if (node.OpType == "Div")
            return node.Inputs[0] == scores && scope.Scalar(node.Inputs[1]) is { } c && c != 0 ? 1 / c : null;
        return node.OpType == "Mul" && FusionScope.Other(node, scores) is { } k && k != scores ? scope.Scalar(k) : null;
    }

    /// <summary>Softmax as the node defines it: before opset 13 over the flattened tail from <paramref name="axis"/>.</summary>
    static Tensor Softmax(Tensor s, long axis, long opset)
    {
        long a = axis < 0 ? axis + s.dim() : axis;
        if (opset >= 13 || a == s.dim() - 1) return s.softmax(a);
        return s.reshape(s.shape[..(int)a].Aggregate(1L, (x, y) => x * y), -1).softmax(1).reshape(s.shape);
    }

    /// <summary>
    /// Whether the Softmax is over the last axis: −1, or 3 (then checked against rank 4 when run). Before
    /// opset 13, softmax at the last axis of its coerced 2-D view is the same thing.
    /// </summary>
    static bool LastAxis(OnnxNode softmax, long opset, out long axis)
    {
        axis = softmax.Int("axis", opset >= 13 ? -1 : 1);
        return axis is -1 or 3;
    }
}
