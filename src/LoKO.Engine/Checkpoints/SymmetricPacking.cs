using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace LoKO.Engine.Checkpoints;

/// <summary>
/// A symmetric matrix in a checkpoint as its upper triangle, row by row (<c>name.upper</c>, [s(s+1)/2]): half the
/// bytes of a shared head's Σ, restored bit for bit (the lower half is the mirror of the upper, copied, not computed).
/// A matrix that is not exactly symmetric is stored whole under its own name. Packing and unpacking copy 64-bit words
/// over the raw bytes: the tensor ops they replace (a triangular mask, masked_select / masked_scatter, where) took
/// ~3–8 ms per 385² Σ on the compute thread, i.e. most of a cold load's parse and much of a checkpoint's save.
/// </summary>
static class SymmetricPacking
{
    const string Suffix = ".upper";

    /// <summary>Adds <paramref name="matrix"/> to <paramref name="tensors"/>; the caller's dispose scope owns what this makes.</summary>
    public static void Put(Dictionary<string, Tensor> tensors, string name, Tensor? matrix)
    {
        if (matrix is null) return;
        if (!SquareFloat64(matrix))
        {
            tensors[name] = matrix;
            return;
        }
        using var cpu = matrix.detach().cpu().contiguous();
        ReadOnlySpan<long> bits = MemoryMarshal.Cast<byte, long>(cpu.bytes);
        int side = (int)matrix.shape[0];
        if (!BitSymmetric(bits, side))
        {
            tensors[name] = matrix;
            return;
        }
        var packed = new long[(long)side * (side + 1) / 2];
        for (int i = 0, k = 0; i < side; k += side - i, i++)
            bits.Slice(i * side + i, side - i).CopyTo(packed.AsSpan(k));
        var upper = empty(packed.LongLength, ScalarType.Float64);
        upper.bytes = MemoryMarshal.AsBytes(packed.AsSpan());
        tensors[name + Suffix] = upper;
    }

    /// <summary>
    /// <paramref name="tensors"/> as a checkpoint holds them: each of <paramref name="symmetric"/> as <see cref="Put"/>
    /// puts it, the others as they are. The caller's dispose scope owns what this makes.
    /// </summary>
    public static Dictionary<string, Tensor> Packed(IReadOnlyDictionary<string, Tensor> tensors, IReadOnlySet<string> symmetric)
    {
        var packed = new Dictionary<string, Tensor>(tensors.Count, StringComparer.Ordinal);
        foreach (var (name, t) in tensors)
        {
            if (symmetric.Contains(name)) Put(packed, name, t);
            else packed[name] = t;
        }
        return packed;
    }

    static bool SquareFloat64(Tensor matrix) =>
        matrix.dim() == 2 && matrix.shape[0] == matrix.shape[1] && matrix.dtype == ScalarType.Float64;

    /// <summary>Each entry the same bits as its mirror (NaN and −0 included).</summary>
    static bool BitSymmetric(ReadOnlySpan<long> bits, int side)
    {
        for (int i = 0; i < side; i++)
            for (int j = i + 1; j < side; j++)
                if (bits[i * side + j] != bits[j * side + i]) return false;
        return true;
    }

    /// <summary>The matrix saved under <paramref name="name"/> whole or packed (on the CPU); null when neither is there.</summary>
    public static Tensor? Get(IReadOnlyDictionary<string, Tensor> tensors, string name)
    {
        if (tensors.TryGetValue(name, out var whole)) return whole;
        if (!tensors.TryGetValue(name + Suffix, out var packed)) return null;
        long k = packed.numel();
        long side = (long)Math.Round((Math.Sqrt(8.0 * k + 1) - 1) / 2);
        if (side * (side + 1) / 2 != k || packed.dim() != 1 || packed.dtype != ScalarType.Float64)
            throw new InvalidDataException($"tensor '{name}{Suffix}': {k} values are no upper triangle of a square float64 matrix");
        using var cpu = packed.cpu().contiguous();
        ReadOnlySpan<long> upper = MemoryMarshal.Cast<byte, long>(cpu.bytes);
        int s = (int)side;
        var full = new long[side * side];
        for (int i = 0, at = 0; i < s; at += s - i, i++)
        {
            upper.Slice(at, s - i).CopyTo(full.AsSpan(i * s + i));
            for (int j = i + 1; j < s; j++) full[j * s + i] = upper[at + j - i];
        }
        var matrix = empty(side, side, ScalarType.Float64);
        matrix.bytes = MemoryMarshal.AsBytes(full.AsSpan());
        return matrix;
    }
}
