using static TorchSharp.torch;

namespace LoKO.Engine.Tests.Platform;

/// <summary>Tests that an operation leaves no TorchSharp tensor behind.</summary>
static class LiveTensors
{
    /// <summary>Tensors alive in the process once every unreachable one is finalized (tests run one class at a time).</summary>
    public static long Count()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return Tensor.TotalCount;
    }
}
