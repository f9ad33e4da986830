using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace LoKO.Engine.Filter;

/// <summary>
/// A symmetric matrix in a checkpoint as its upper triangle, row by row (<c>name.upper</c>, [s(s+1)/2]): half the
/// bytes of a shared head's Σ, restored bit for bit (the lower half is the mirror of the upper, selected, not computed).
/// A matrix that is not exactly symmetric is stored whole under its own name.
/// </summary>
static class SymmetricPacking
{
    const string Suffix = ".upper";

    /// <summary>Adds <paramref name="matrix"/> to <paramref name="tensors"/>; the caller's dispose scope owns what this makes.</summary>
    public static void Put(Dictionary<string, Tensor> tensors, string name, Tensor? matrix)
    {
        if (matrix is null) return;
        if (BitSymmetric(matrix)) tensors[name + Suffix] = matrix.masked_select(UpperMask(matrix.shape[0], matrix.device));
        else tensors[name] = matrix;
    }

    /// <summary>
    /// Square, float64, and each entry the same bits as its mirror (NaN and −0 included). Compared as 64-bit words
    /// over the raw bytes: an element accessor per entry took ~20 ms for a 385² Σ, on the compute thread, every checkpoint.
    /// </summary>
    static bool BitSymmetric(Tensor matrix)
    {
        if (matrix.dim() != 2 || matrix.shape[0] != matrix.shape[1] || matrix.dtype != ScalarType.Float64) return false;
        using var cpu = matrix.detach().cpu().contiguous();
        ReadOnlySpan<long> bits = MemoryMarshal.Cast<byte, long>(cpu.bytes);
        int side = (int)matrix.shape[0];
        for (int i = 0; i < side; i++)
            for (int j = i + 1; j < side; j++)
                if (bits[i * side + j] != bits[j * side + i]) return false;
        return true;
    }

    /// <summary>The matrix saved under <paramref name="name"/> whole or packed; null when neither is there.</summary>
    public static Tensor? Get(IReadOnlyDictionary<string, Tensor> tensors, string name)
    {
        if (tensors.TryGetValue(name, out var whole)) return whole;
        if (!tensors.TryGetValue(name + Suffix, out var packed)) return null;
        long k = packed.numel();
        long side = (long)Math.Round((Math.Sqrt(8.0 * k + 1) - 1) / 2);
        if (side * (side + 1) / 2 != k) throw new InvalidDataException($"tensor '{name}{Suffix}': {k} values are no upper triangle of a square matrix");
        var mask = UpperMask(side, packed.device);
        var upper = zeros(side, side, dtype: packed.dtype, device: packed.device).masked_scatter(mask, packed);
        return where(mask, upper, upper.t());
    }

    static Tensor UpperMask(long side, Device device) => ones(side, side, dtype: ScalarType.Bool, device: device).triu();
}
