using System.Collections.Concurrent;
using static TorchSharp.torch;

namespace LoKO.Engine.Onnx.Fusion;

/// <summary>
/// Frozen tensors that fused steps compute once from the graph's initializers (a convolution with its
/// batch norm folded in, a weight in MKL's packed form), on the executor's device. Shared by every plan of one
/// executor, which owns them.
/// </summary>
internal sealed class DerivedConstants(Device device) : IDisposable
{
    readonly ConcurrentDictionary<string, Lazy<Tensor>> _values = new();

    public PackedWeights Packed { get; } = new(device);

    public Tensor GetOrAdd(string key, Func<Tensor> make) =>
        _values.GetOrAdd(key, _ => new Lazy<Tensor>(() =>
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            var t = make();
            return (t.device == device ? t : t.to(device)).DetachFromDisposeScope();
        })).Value;

    public void Dispose()
    {
        Packed.Dispose();
        foreach (var v in _values.Values)
            if (v.IsValueCreated) v.Value.Dispose();
    }
}
