using static TorchSharp.torch;

namespace LoKO.Engine.Onnx.Fusion;

/// <summary>
/// Linears (MatMul by a constant weight, then Add of its constant bias) that read one input, as attention's query,
/// key and value projections do: where none is hooked, one product with the weights side by side, packed once
/// ([in, Σ out], as ONNX Runtime's attention packs them), and each output a view of its columns. Where a gradient
/// must flow through the product, or it cannot run packed, each linear runs as <see cref="MatMulBiasFusion"/>
/// runs it, with its own weight, so gradients are those of separate linears. A hooked MatMul (a LoRA site) or Add
/// keeps every linear of its input out of this group: they fuse one by one, as before.
/// </summary>
internal sealed class SharedInputLinearsFusion : IFusionPattern
{
    public FusedGroup? Match(OnnxNode node, FusionScope scope)
    {
        if (Linear(node, scope) is null) return null;
        string x = node.Inputs[0];
        var linears = scope.Consumers(x).Where(n => n.OpType == "MatMul" && n.Inputs[0] == x)
            .Select(n => Linear(n, scope)).ToList();
        if (linears.Count < 2 || linears.Any(l => l is null) || linears[0]!.Value.MatMul != node) return null;
        var parts = linears.Select(l => l!.Value).ToList();
        if (parts.Any(p => !scope.MayFuse(p.MatMul) || !scope.MayFuse(p.Add))) return null;
        var (weight0, bias0) = (parts[0].Weight, parts[0].Bias);
        if (parts.Any(p => p.Weight.dtype != weight0.dtype || p.Weight.shape[0] != weight0.shape[0])) return null;

        long[] widths = [.. parts.Select(p => p.Weight.shape[1])];
        string key = "linears:" + string.Join(",", parts.Select(p => p.MatMul.Index));
        var bias = scope.Derived.GetOrAdd(key + ":b", () => cat([.. parts.Select(p => p.Bias)], 0));
        // The weights side by side are only packed (a product that cannot run packed takes each weight alone).
        PackedWeight? packed;
        using (var weight = cat([.. parts.Select(p => p.Weight)], 1)) packed = scope.Derived.Packed.For(key, weight);
        List<string> inputs = [x, .. parts.SelectMany(p => new[] { p.MatMul.Inputs[1], FusionScope.Other(p.Add, p.MatMul.Outputs[0])! })];
        return new FusedGroup($"MatMul+Add×{parts.Count}", [.. parts.SelectMany(p => new[] { p.MatMul, p.Add })], inputs,
            [.. parts.Select(p => p.Add.Outputs[0])], c =>
        {
            var input = c.Input(0);
            if (packed is null || !packed.Takes(input, bias))
                return [.. widths.Select((_, k) => nn.functional.linear(input, c.Input(1 + 2 * k).t(), c.Input(2 + 2 * k)))];
            using var y = packed.Linear(input, bias);
            long offset = 0;
            return [.. widths.Select(w => y.narrow(-1, (offset += w) - w, w))];
        })
        {
            MultiplyAddsPerInputElement = widths.Sum(),
        };
    }

    /// <summary>A MatMul that <see cref="MatMulBiasFusion"/> would take with its Add: its parts, or null.</summary>
    static (OnnxNode MatMul, OnnxNode Add, Tensor Weight, Tensor Bias)? Linear(OnnxNode node, FusionScope scope)
    {
        if (node.OpType != "MatMul" || node.Inputs.Count != 2 || scope.Constant(node.Inputs[0]) is not null) return null;
        if (scope.Constant(node.Inputs[1]) is not { } w || w.dim() != 2 || !w.is_floating_point()) return null;
        if (scope.SoleConsumer(node.Outputs[0]) is not { OpType: "Add" } add || FusionScope.Other(add, node.Outputs[0]) is not { } bias) return null;
        if (scope.Constant(bias) is not { } b || b.dim() != 1 || b.shape[0] != w.shape[1] || b.dtype != w.dtype) return null;
        return (node, add, w, b);
    }
}
