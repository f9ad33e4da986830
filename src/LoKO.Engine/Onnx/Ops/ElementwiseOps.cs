using LoKO.Engine.Platform;
using TorchSharp;
using static TorchSharp.torch;

namespace LoKO.Engine.Onnx.Ops;

/// <summary>Element-wise arithmetic, activations and comparisons (numpy broadcasting, as torch does).</summary>
static class ElementwiseOps
{
    public static IEnumerable<OpKernel> Kernels() =>
    [
        Binary("Add", (a, b) => a.Plus(b)),
        Binary("Sub", (a, b) => a - b),
        Binary("Mul", (a, b) => a * b),
        Binary("Div", (a, b) => a.is_floating_point() ? a / b : a.div(b, RoundingMode.trunc)),
        Binary("Pow", (a, b) => a.pow(b).to(a.dtype)),
        Binary("Equal", (a, b) => a.eq(b)),
        Binary("Less", (a, b) => a.lt(b)),
        Binary("Greater", (a, b) => a.gt(b)),
        Unary("Sqrt", x => x.sqrt()),
        Unary("Erf", x => x.erf()),
        Unary("Tanh", x => x.tanh()),
        Unary("Relu", x => nn.functional.relu(x)),
        Unary("Sigmoid", x => x.sigmoid()),
        Unary("Neg", x => x.neg()),
        Unary("Exp", x => x.exp()),
        Unary("Log", x => x.log()),
        Unary("Abs", x => x.abs()),
        Unary("Reciprocal", x => x.reciprocal()),
        Unary("Not", x => x.logical_not()),
        Unary("Identity", x => x.alias()),
        new("Gelu", c => [nn.functional.gelu(c.Input(0),
            c.Node.String("approximate", "none") == "tanh" ? TorchSharp.Modules.GELU.Approximate.tanh : TorchSharp.Modules.GELU.Approximate.none)], 20),
        new("Cast", c => [c.Input(0).to(TensorProtoConverter.ToScalarType((int)c.Node.Int("to", 0), $"Cast '{c.Node.Name}'"))]),
        new("Where", c =>
        {
            var cond = c.Input(0);
            var x = c.Input(1);
            var y = c.Input(2).OnDeviceOf(x);
            return [where(cond.OnDeviceOf(x), x, y)];
        }),
        new("Clip", Clip),
        // Inference only: Dropout passes data through; its optional mask output is all true.
        new("Dropout", c => c.Node.Outputs.Count > 1 && c.Node.Outputs[1] != ""
            ? [c.Input(0).alias(), ones_like(c.Input(0), ScalarType.Bool)]
            : [c.Input(0).alias()]),
    ];

    static OpKernel Unary(string op, Func<Tensor, Tensor> f) => new(op, c => [f(c.Input(0))]);

    static OpKernel Binary(string op, Func<Tensor, Tensor, Tensor> f) =>
        new(op, c =>
        {
            var a = c.Input(0);
            var b = c.Input(1);
            // Shape arithmetic (int64 on CPU) can meet float data on an accelerator; follow the float side.
            if (a.device != b.device) { if (a.is_floating_point()) b = b.to(a.device); else a = a.to(b.device); }
            return [f(a, b)];
        });

    static Tensor[] Clip(OpContext c)
    {
        var x = c.Input(0);
        if (c.Opset < 11)
        {
            using Scalar min = c.Node.Float("min", float.MinValue).ToScalar(), max = c.Node.Float("max", float.MaxValue).ToScalar();
            return [x.clamp(min, max)];
        }
        var lo = c.OptionalInput(1);
        var hi = c.OptionalInput(2);
        // Both bounds are optional; torch's clamp insists on at least one.
        if (lo is null && hi is null) return [x.alias()];
        return [x.clamp(lo?.OnDeviceOf(x), hi?.OnDeviceOf(x))];
    }
}
