using LoKO.Engine.Platform;
using TorchSharp;
using static TorchSharp.torch;

namespace LoKO.Engine.Platform;

/// <summary>
/// Tensor arithmetic with a number, each number held until LibTorch has used it. TorchSharp frees a
/// <see cref="Scalar"/> in its finalizer, and the one an implicit conversion makes (also the alpha = 1 of its
/// <c>a + b</c> and <c>add_</c>) is unreachable once its handle is passed to native code: a GC during the call
/// frees it under LibTorch, which then reads freed memory ("Expected false to be true … toFloat", c10/core/Scalar.h).
/// Under load that failed 8 of 20,000 steps. Here a number lives in a local disposed after the call, or is
/// <see cref="One"/>, a static that is never collected; <c>HeldScalarsTests</c> keeps implicit ones out of the engine
/// and the server. Each result is bit for bit the operator's.
/// </summary>
public static class HeldScalars
{
    public static readonly Scalar One = 1.ToScalar();

    /// <summary>a + b.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary>a ⊙ a (TorchSharp's square() is pow with a temporary 2; the product is the same bits).</summary>
    public static Tensor Squared(this Tensor a) => a.mul(a);

    /// <summary>a ← a + b.</summary>
    public static Tensor PlusInPlace(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary>a + c.</summary>
    public static Tensor Plus(this Tensor a, double c) => Held(c, s => a.add(s, One));

    /// <summary>a − c.</summary>
    public static Tensor Minus(this Tensor a, double c) => Held(c, s => a.sub(s));

    /// <summary>c − a.</summary>
    public static Tensor Subtracted(this Tensor a, double c) => Held(c, s =>
    {
        using var negative = a.negative();
        return negative.add(s, One);
    });

    /// <summary>a·c.</summary>
    public static Tensor Times(this Tensor a, double c) => Held(c, s => a.mul(s));

    /// <summary>a ← a·c.</summary>
    public static Tensor TimesInPlace(this Tensor a, double c) => Held(c, s => a.mul_(s));

    /// <summary>a / c.</summary>
    public static Tensor Over(this Tensor a, double c) => Held(c, s => a.div(s));

    /// <summary>a ← a / c.</summary>
    public static Tensor OverInPlace(this Tensor a, double c) => Held(c, s => a.div_(s));

    /// <summary>c / a.</summary>
    public static Tensor Dividing(this Tensor a, double c) => Held(c, s =>
    {
        using var reciprocal = a.reciprocal();
        return reciprocal.mul(s);
    });

    /// <summary>max(a, c) elementwise.</summary>
    public static Tensor AtLeast(this Tensor a, double c) => Held(c, s => a.clamp_min(s));

    /// <summary>A tensor shaped as <paramref name="like"/>, every entry c.</summary>
    public static Tensor FilledLike(this Tensor like, double c) => Held(c, s => full_like(like, s));

    /// <summary>0, 1, …, n − 1 as int64 (TorchSharp's arange(stop) makes its start and step as temporaries).</summary>
    public static Tensor Range(long n, Device device)
    {
        using Scalar zero = 0L.ToScalar(), stop = n.ToScalar();
        return arange(zero, stop, One, dtype: ScalarType.Int64, device: device);
    }

    /// <summary>The value of a one-element tensor.</summary>
    public static double Value(this Tensor t)
    {
        using var s = t.ToScalar();
        return s.ToDouble();
    }

    /// <summary>op(c) with c held until op returns.</summary>
    static Tensor Held(double c, Func<Scalar, Tensor> op)
    {
        using var s = c.ToScalar();
        return op(s);
    }
}
