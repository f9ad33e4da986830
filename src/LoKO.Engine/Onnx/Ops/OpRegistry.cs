using System.Diagnostics.CodeAnalysis;

namespace LoKO.Engine.Onnx.Ops;

/// <summary>Op type → kernel, assembled from the op families.</summary>
public static class OpRegistry
{
    static readonly Dictionary<string, OpKernel> Kernels =
        ElementwiseOps.Kernels()
            .Concat(ShapeOps.Kernels())
            .Concat(NeuralOps.Kernels())
            .Concat(ReduceOps.Kernels())
            .Append(new OpKernel("Constant", _ => throw new InvalidOperationException("Constant nodes are folded at load")))
            .ToDictionary(k => k.OpType);

    public static bool TryGet(string opType, [NotNullWhen(true)] out OpKernel? kernel) => Kernels.TryGetValue(opType, out kernel);

    public static IEnumerable<string> SupportedOps => Kernels.Keys.Order();
}
