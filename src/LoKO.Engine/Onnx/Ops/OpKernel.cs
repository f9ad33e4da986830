namespace LoKO.Engine.Onnx.Ops;

/// <summary>An operator implementation; <paramref name="SinceOpset"/> is the oldest opset whose semantics it handles.</summary>
public sealed record OpKernel(string OpType, Func<OpContext, TorchSharp.torch.Tensor[]> Run, long SinceOpset = 1);
