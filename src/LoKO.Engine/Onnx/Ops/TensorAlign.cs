using static TorchSharp.torch;

namespace LoKO.Engine.Onnx.Ops;

/// <summary>Integer shape tensors stay on the CPU while float data may live on an accelerator; bring them together.</summary>
static class TensorAlign
{
    public static Tensor OnDeviceOf(this Tensor t, Tensor other) =>
        t.device == other.device ? t : t.to(other.device);
}
