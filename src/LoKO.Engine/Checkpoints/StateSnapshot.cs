using static TorchSharp.torch;

namespace LoKO.Engine.Checkpoints;

/// <summary>
/// A checkpoint's content copied out of a live optimizer state: its tensors (host copies this snapshot owns) and its
/// metadata. It is taken between two steps, where the state may be read (the compute thread), and encoded as
/// safetensors later on any thread while the state goes on changing in place: the copy — a few MiB of memcpy — is the
/// only part of a checkpoint that has to wait for the state's owner.
/// </summary>
public sealed class StateSnapshot : IDisposable
{
    readonly Dictionary<string, Tensor> _tensors;
    readonly Dictionary<string, string> _metadata;
    readonly IReadOnlySet<string> _symmetric;

    StateSnapshot(Dictionary<string, Tensor> tensors, Dictionary<string, string> metadata, IReadOnlySet<string> symmetric)
    {
        _tensors = tensors;
        _metadata = metadata;
        _symmetric = symmetric;
    }

    /// <summary>
    /// Copies <paramref name="tensors"/> (views of the live state, or tensors the caller's scope owns) into host memory
    /// this snapshot owns: a host tensor is cloned, a device tensor copied to the host. The tensors named in
    /// <paramref name="symmetric"/> are packed when the snapshot is written (<see cref="SymmetricPacking"/>), not now.
    /// </summary>
    public static StateSnapshot Of(IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string> metadata,
                                   IReadOnlySet<string>? symmetric = null)
    {
        var copies = new Dictionary<string, Tensor>(tensors.Count, StringComparer.Ordinal);
        try
        {
            foreach (var (name, t) in tensors) copies[name] = HostCopy(t);
            return new StateSnapshot(copies, new Dictionary<string, string>(metadata, StringComparer.Ordinal),
                                     symmetric ?? new HashSet<string>());
        }
        catch
        {
            foreach (var c in copies.Values) c.Dispose();
            throw;
        }
    }

    static Tensor HostCopy(Tensor t)
    {
        using var detached = t.detach();
        var copy = detached.device_type == TorchSharp.DeviceType.CPU ? detached.clone() : detached.cpu();
        return copy.DetachFromDisposeScope();
    }

    /// <summary>The safetensors file of the state as it was when the snapshot was taken; any thread.</summary>
    public void Write(Stream stream)
    {
        // The packed triangles and the codec's views of each tensor are this thread's to free.
        using var scope = NewDisposeScope();
        SafetensorsCodec.Write(stream, SymmetricPacking.Packed(_tensors, _symmetric), _metadata);
    }

    public void Dispose()
    {
        foreach (var t in _tensors.Values) t.Dispose();
        _tensors.Clear();
    }
}
