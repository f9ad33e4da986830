using static TorchSharp.torch;

namespace LoKO.Engine.Onnx.Ops;

/// <summary>Reductions; axes move from attribute to input at opset 13 (ReduceSum) or 18 (the others).</summary>
static class ReduceOps
{
    public static IEnumerable<OpKernel> Kernels() =>
    [
        Reduce("ReduceMean", 18, (x, axes, keep) => x.mean(axes, keep)),
        Reduce("ReduceSum", 13, (x, axes, keep) => x.sum(axes, keep)),
        Reduce("ReduceMax", 18, (x, axes, keep) => axes.Aggregate(x, (y, a) => y.amax([a], keep))),
        Reduce("ReduceMin", 18, (x, axes, keep) => axes.Aggregate(x, (y, a) => y.amin([a], keep))),
    ];

    static OpKernel Reduce(string op, long axesBecameInput, Func<Tensor, long[], bool, Tensor> f) =>
        new(op, c =>
        {
            var x = c.Input(0);
            bool keep = c.Node.Int("keepdims", 1) == 1;
            long[]? axes = c.Opset >= axesBecameInput ? c.OptionalInputInts(1) : c.Node.Ints("axes");
            if (axes is null || axes.Length == 0)
            {
                if (c.Node.Int("noop_with_empty_axes", 0) == 1) return [x.alias()];
                axes = [.. Enumerable.Range(0, (int)x.dim()).Select(i => (long)i)];
            }
            // Descending, so that removing one axis (keepdims=0) does not shift the next.
            long[] normalised = [.. axes.Select(a => ShapeOps.Axis(a, x.dim())).Distinct().OrderDescending()];
            return [f(x, normalised, keep)];
        });
}
