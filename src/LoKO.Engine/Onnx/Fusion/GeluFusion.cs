using static TorchSharp.torch;

namespace LoKO.Engine.Onnx.Fusion;

/// <summary>
/// Exact (erf) GELU as torch exports it before opset 20: e = Erf(x / √2) (or x · 1/√2), then
/// (x · (e + 1)) · 0.5, or (x · 0.5) · (e + 1). Runs as one gelu, whose backward is one kernel too.
/// </summary>
internal sealed class GeluFusion : IFusionPattern
{
    // Exporters write √2 and 1/√2 rounded to float32 (within 3e-8); one and one half are exact.
    const double Tolerance = 1e-6;

    public FusedGroup? Match(OnnxNode node, FusionScope scope)
    {
        if (node.OpType != "Erf" || node.Inputs.Count != 1) return null;
        if (scope.Producer(node.Inputs[0]) is not { } scale || !scope.ReadOnlyBy(node.Inputs[0], node)) return null;
        if (ScaledInput(scale, scope) is not { } x) return null;
        if (scope.SoleConsumer(node.Outputs[0]) is not { OpType: "Add" } addOne) return null;
        if (FusionScope.Other(addOne, node.Outputs[0]) is not { } one || scope.Scalar(one) != 1) return null;
        string factor = addOne.Outputs[0];
        if (scope.SoleConsumer(factor) is not { OpType: "Mul" } times || FusionScope.Other(times, factor) is not { } other) return null;

        List<OnnxNode> nodes = [scale, node, addOne, times];
        string output;
        if (other == x)
        {
            // (x · (e + 1)) · 0.5
            if (scope.SoleConsumer(times.Outputs[0]) is not { OpType: "Mul" } half || !IsHalf(half, times.Outputs[0], scope)) return null;
            nodes.Add(half);
            output = half.Outputs[0];
        }
        else
        {
            // (x · 0.5) · (e + 1)
            if (scope.Producer(other) is not { OpType: "Mul" } half || !IsHalf(half, x, scope) || !scope.ReadOnlyBy(other, times)) return null;
            nodes.Insert(0, half);
            output = times.Outputs[0];
        }
        return new FusedGroup("Gelu", nodes, [x], output, c => nn.functional.gelu(c.Input(0)));
    }

    /// <summary>x from x / √2 or x · (1/√2).</summary>
    static string? ScaledInput(OnnxNode scale, FusionScope scope)
    {
        if (scale.Inputs.Count != 2) return null;
        if (scale.OpType == "Div")
            return scope.Scalar(scale.Inputs[1]) is { } c && Math.Abs(c - Math.Sqrt(2)) < Tolerance ? scale.Inputs[0] : null;
        if (scale.OpType != "Mul") return null;
        foreach (var (x, k) in new[] { (scale.Inputs[0], scale.Inputs[1]), (scale.Inputs[1], scale.Inputs[0]) })
            if (scope.Scalar(k) is { } c && Math.Abs(c - Math.Sqrt(0.5)) < Tolerance && scope.Constant(x) is null) return x;
        return null;
    }

    static bool IsHalf(OnnxNode mul, string operand, FusionScope scope) =>
        FusionScope.Other(mul, operand) is { } k && scope.Scalar(k) == 0.5;
}
