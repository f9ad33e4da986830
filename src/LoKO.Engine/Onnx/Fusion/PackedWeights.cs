using System.Collections.Concurrent;
using static TorchSharp.torch;

namespace LoKO.Engine.Onnx.Fusion;

/// <summary>
/// The frozen MatMul weights of one executor in MKL's packed form, packed once when a plan first fuses them
/// and shared by every plan of that executor, which frees them. Nothing is packed off the CPU, for a weight
/// other than float32, or when this LibTorch has no packed GEMM: such steps keep the plain linear.
/// </summary>
internal sealed class PackedWeights(Device device) : IDisposable
{
    readonly ConcurrentDictionary<string, Lazy<PackedWeight?>> _weights = new();
    readonly bool _enabled = device.type == TorchSharp.DeviceType.CPU && MklPackedGemm.Available;

    /// <summary>The packed form of initializer <paramref name="name"/>, a [in, out] weight; null where none is made.</summary>
    public PackedWeight? For(string name, Tensor weight) =>
        !_enabled || weight.dtype != ScalarType.Float32 || weight.device_type != TorchSharp.DeviceType.CPU || weight.dim() != 2
        || weight.requires_grad || weight.shape.Any(d => d == 0 || d > int.MaxValue)
            ? null
            : _weights.GetOrAdd(name, _ => new Lazy<PackedWeight?>(() => PackedWeight.Pack(weight))).Value;

    /// <summary>The weights packed so far.</summary>
    public IEnumerable<PackedWeight> All => _weights.Values.Where(l => l.IsValueCreated).Select(l => l.Value).OfType<PackedWeight>();

    public void Dispose()
    {
        foreach (var w in All) w.Dispose();
    }
}
