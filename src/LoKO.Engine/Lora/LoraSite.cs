using LoKO.Engine.Onnx;
using LoKO.Engine.Onnx.Ops;

namespace LoKO.Engine.Lora;

public enum LoraSiteKind { MatMul, Gemm, Conv }

/// <summary>
/// A node whose weight is a frozen initializer, where a tenant may add a low-rank update:
/// y = op(x, W) + (α/r)·B·A·x. For Conv, A is a convolution with the site's kernel, stride and padding
/// and r filters, and B a 1×1 convolution (as PEFT does).
/// </summary>
public sealed record LoraSite(
    string Name,
    OnnxNode Node,
    LoraSiteKind Kind,
    string WeightName,
    long InFeatures,
    long OutFeatures,
    long[] KernelShape,
    ConvGeometry? Geometry)
{
    /// <summary>Fan-in of A, which sets its Kaiming-uniform bound.</summary>
    public long FanIn => InFeatures * KernelShape.Aggregate(1L, (a, b) => a * b);

    public long ParameterCount(int rank) => rank * FanIn + OutFeatures * rank;
}
