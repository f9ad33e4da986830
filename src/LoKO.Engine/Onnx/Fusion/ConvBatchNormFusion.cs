using LoKO.Engine.Onnx.Ops;
using LoKO.Engine.Platform;
using static TorchSharp.torch;

namespace LoKO.Engine.Onnx.Fusion;

/// <summary>
/// A 2-D Conv with a constant weight (and bias) whose output only an inference BatchNormalization with
/// constant statistics reads: the frozen network's pair, folded once into one convolution,
/// W' = W·γ/√(σ² + ε), b' = (b − μ)·γ/√(σ² + ε) + β. A hooked Conv (a LoRA site, whose delta enters
/// before the norm) is never taken in: the plan keeps it and its norm as they are. On the CPU the folded
/// convolution runs channels-last (<see cref="ChannelsLast"/>), and a Relu after the norm is taken in.
/// </summary>
internal sealed class ConvBatchNormFusion : IFusionPattern
{
    public FusedGroup? Match(OnnxNode node, FusionScope scope)
    {
        if (node.OpType != "Conv" || node.Inputs.Count < 2) return null;
        if (scope.Constant(node.Inputs[1]) is not { } weight || weight.dim() != 4 || !weight.is_floating_point()) return null;
        long channels = weight.shape[0];
        Tensor? bias = null;
        if (node.Inputs.Count > 2 && node.Inputs[2] != "" && (bias = scope.Constant(node.Inputs[2])) is null) return null;
        if (scope.SoleConsumer(node.Outputs[0]) is not { OpType: "BatchNormalization" } bn || bn.Inputs.Count != 5 || bn.Inputs[0] != node.Outputs[0]) return null;
        if (bn.Outputs.Skip(1).Any(o => o != "") || (scope.Opset < 9 && bn.Int("spatial", 1) != 1)) return null;
        var stats = bn.Inputs.Skip(1).Select(scope.Constant).ToArray();
        if (stats.Any(t => t is null || t.dim() != 1 || t.shape[0] != channels)) return null;

        // The kernel reads ε as the float32 attribute widened, so the fold uses the same value.
        double eps = bn.Float("epsilon", 1e-5f);
        string key = $"conv-bn:{node.Index}";
        Tensor Folded(bool w) => scope.Derived.GetOrAdd(key + (w ? ":w" : ":b"), () =>
        {
            var (gamma, beta, mean, variance) = (stats[0]!.to(ScalarType.Float64), stats[1]!.to(ScalarType.Float64),
                                                 stats[2]!.to(ScalarType.Float64), stats[3]!.to(ScalarType.Float64));
            var factor = gamma / variance.Plus(eps).sqrt();
            return w
                ? ChannelsLast.Of((weight.to(ScalarType.Float64) * factor.view(-1, 1, 1, 1)).to(weight.dtype))
                : ((bias?.to(ScalarType.Float64) ?? zeros_like(mean)) - mean).mul(factor).Plus(beta).to(weight.dtype);
        });
        var foldedWeight = Folded(true);
        var foldedBias = Folded(false);
        // A Relu that alone reads the norm runs in place on the convolution's fresh output, which no one else
        // sees; convolution's backward does not read its output, so gradients are those of the nodes.
        var relu = scope.SoleConsumer(bn.Outputs[0]) is { OpType: "Relu" } r && r.Inputs[0] == bn.Outputs[0] && scope.MayFuse(r) ? r : null;
        var geometry = ConvGeometry.Of(node, (int)weight.dim() - 2);
        return new FusedGroup(relu is null ? "Conv+BatchNormalization" : "Conv+BatchNormalization+Relu",
            relu is null ? [node, bn] : [node, bn, relu], [node.Inputs[0]], (relu ?? bn).Outputs[0], c =>
        {
            var y = geometry.Apply(ChannelsLast.Of(c.Input(0)), foldedWeight, foldedBias);
            return relu is null ? y : y.relu_();
        })
        {
            // Per element of x [N, C, ..]: w [M, C/g, ..] has M·k/g multiply-adds over C, fewer by each stride.
            MultiplyAddsPerInputElement = Math.Max(1, weight.numel() / Math.Max(1, weight.shape[1] * geometry.Group)
                                                       / Math.Max(1, geometry.Strides.Aggregate(1L, (p, q) => p * q))),
        };
    }
}
