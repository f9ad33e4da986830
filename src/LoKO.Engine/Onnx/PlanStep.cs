using LoKO.Engine.Onnx.Ops;
using static TorchSharp.torch;

namespace LoKO.Engine.Onnx;

/// <summary>
/// One step of an <see cref="ExecutionPlan"/>: a graph node run by its kernel, or a fused group of nodes
/// run as one op (<see cref="Node"/> is then the group's last node, which errors name). Values are slots
/// of the run's tensor array; −1 marks an omitted input or an unnamed output.
/// </summary>
internal sealed class PlanStep
{
    public required OnnxNode Node { get; init; }
    /// <summary>The op this step runs: the node's, or the fused one's (e.g. LayerNormalization).</summary>
    public required string OpType { get; init; }
    public required bool Fused { get; init; }
    public required int[] Inputs { get; init; }
    public required int[] Outputs { get; init; }
    public required Func<OpContext, Tensor[]> Run { get; init; }
    /// <summary>Depends only on input shapes and constants, so its outputs can be cached per shape signature.</summary>
    public required bool ShapeOnly { get; init; }
    /// <summary>Multiply-adds per element of the first input, for a fused product (<see cref="StepThreads"/>); 0 otherwise.</summary>
    public long MultiplyAddsPerInputElement { get; init; }
    /// <summary>Slots read for the last time here (or never read after being produced here).</summary>
    public required int[] Frees { get; init; }

    public override string ToString() => Fused ? $"{OpType} (fused, ends at {Node})" : Node.ToString();
}
