using static TorchSharp.torch;

namespace LoKO.Engine.Onnx.Fusion;

/// <summary>
/// LayerNorm over the last axis as torch exports it before opset 17:
/// μ = ReduceMean(x), d = x − μ, σ = Sqrt(ReduceMean(Pow(d, 2)) + ε), y = d / σ, then optionally
/// Mul(γ) and Add(β) with 1-D constants. Runs as one layer_norm, whose backward is one kernel too.
/// </summary>
internal sealed class LayerNormFusion : IFusionPattern
{
    public FusedGroup? Match(OnnxNode node, FusionScope scope)
    {
        if (!IsLastAxisMean(node, scope)) return null;
        string x = node.Inputs[0], mean = node.Outputs[0];
        if (scope.SoleConsumer(mean) is not { } sub || !FusionScope.Is(sub, "Sub", x, mean)) return null;
        string centred = sub.Outputs[0];
        if (scope.Consumers(centred).FirstOrDefault(n => n.OpType == "Pow") is not { Inputs: [var @base, var exponent] } pow
            || @base != centred || scope.Scalar(exponent) != 2) return null;
        if (scope.SoleConsumer(pow.Outputs[0]) is not { } variance || !IsLastAxisMean(variance, scope)) return null;
        if (scope.SoleConsumer(variance.Outputs[0]) is not { OpType: "Add" } addEps) return null;
        if (FusionScope.Other(addEps, variance.Outputs[0]) is not { } epsName || scope.Scalar(epsName) is not { } eps) return null;
        if (scope.SoleConsumer(addEps.Outputs[0]) is not { OpType: "Sqrt" } sqrt) return null;
        if (scope.SoleConsumer(sqrt.Outputs[0]) is not { } div || !FusionScope.Is(div, "Div", centred, sqrt.Outputs[0])) return null;
        if (!scope.ReadOnlyBy(centred, pow, div)) return null;

        List<OnnxNode> nodes = [node, sub, pow, variance, addEps, sqrt, div];
        string output = div.Outputs[0];
        string gamma = Affine(scope, "Mul", ref output, nodes), beta = Affine(scope, "Add", ref output, nodes);
        // ε is the float32 constant's exact value, so layer_norm adds what the graph adds.
        return new FusedGroup("LayerNormalization", nodes, [x, gamma, beta], output, c =>
        {
            var input = c.Input(0);
            return nn.functional.layer_norm(input, [input.shape[^1]], c.OptionalInput(1), c.OptionalInput(2), eps);
        });
    }

    /// <summary>ReduceMean over axis −1 only, keeping it (axes an attribute before opset 18, an input from 18).</summary>
    static bool IsLastAxisMean(OnnxNode node, FusionScope scope)
    {
        if (node.OpType != "ReduceMean" || node.Inputs.Count == 0 || node.Int("keepdims", 1) != 1) return false;
        long[]? axes = scope.Opset >= 18
            ? node.Inputs.Count > 1 && node.Inputs[1] != "" ? scope.Ints(node.Inputs[1]) : null
            : node.Ints("axes");
        return axes is [-1];
    }

    /// <summary>
    /// Takes in a following Mul (γ) or Add (β) by a 1-D constant of more than one value (so that it is the
    /// per-feature affine, not a broadcast scalar) when nothing else reads <paramref name="output"/>.
    /// Returns the constant's name, or "" (an omitted input) when there is none.
    /// </summary>
    static string Affine(FusionScope scope, string opType, ref string output, List<OnnxNode> nodes)
    {
        if (scope.SoleConsumer(output) is not { } next || next.OpType != opType) return "";
        if (FusionScope.Other(next, output) is not { } name || scope.Constant(name) is not { } c) return "";
        if (c.dim() != 1 || c.shape[0] < 2 || !c.is_floating_point()) return "";
        nodes.Add(next);
        output = next.Outputs[0];
        return name;
    }
}
