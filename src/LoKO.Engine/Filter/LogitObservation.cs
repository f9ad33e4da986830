using LoKO.Engine.Platform;
using static TorchSharp.torch;

namespace LoKO.Engine.Filter;

/// <summary>
/// The categorical observation linearised in the logits (KALMAN-QUALITY.md, candidate A). Notation: z logits [C],
/// ŷ = softmax(z), e = y − ŷ [C], Λ = diag(ŷ) − ŷŷᵀ (= ∂ŷ/∂z), V = J·P·Jᵀ the prior covariance of z [C, C],
/// R = τ·Λ. Then H = Λ·J and S = Λ·V·Λ + τ·Λ = Λ·(V·Λ + τI), so K·e = P·Jᵀ·Λ·S⁻¹·e = P·Jᵀ·(τI + Λ·V)⁻¹·e:
/// Λ⁻¹ is never formed. Everything here is C×C, in float64.
/// </summary>
public static class LogitObservation
{
    /// <summary>Λ = diag(ŷ) − ŷŷᵀ + (ε/C)·I: the floor keeps R positive definite when ŷ saturates.</summary>
    public static Tensor Lambda(Tensor yHat, double floor)
    {
        long c = yHat.shape[0];
        return (diag(yHat) - yHat.outer(yHat)).Plus(eye(c, dtype: yHat.dtype, device: yHat.device).Times(floor / c));
    }

    /// <summary>u = (τI + Λ·V)⁻¹·e [C]: the innovation weighted by the inverse predictive covariance.</summary>
    public static Tensor Weighted(Tensor lambda, Tensor v, Tensor e, double tau)
    {
        long c = e.shape[0];
        var s = eye(c, dtype: e.dtype, device: e.device).Times(tau).Plus(matmul(lambda, v));
        return linalg.solve(s, e);
    }

    /// <summary>M = (τI + Λ·V)⁻¹·Λ [C, C] (= Λ·S⁻¹·Λ, symmetric): diag(K·H·P) = p² ⊙ diag(Jᵀ·M·J).</summary>
    public static Tensor Gain(Tensor lambda, Tensor v, double tau)
    {
        long c = lambda.shape[0];
        var s = eye(c, dtype: lambda.dtype, device: lambda.device).Times(tau).Plus(matmul(lambda, v));
        var m = linalg.solve(s, lambda);
        return m.Plus(m.t()).Times(0.5);
    }

    /// <summary>eᵀ·S⁻¹·e with S = Λ·V·Λ + τ·Λ: the squared Mahalanobis length of the innovation (C − 1 expected).</summary>
    public static double NormalisedInnovation(Tensor lambda, Tensor v, Tensor e, double tau)
    {
        var s = matmul(matmul(lambda, v), lambda).Plus(lambda.Times(tau));
        return e.dot(linalg.solve(s.Plus(s.t()).Times(0.5), e)).Value();
    }

    /// <summary>IMQ weight w = c² / (c² + eᵀS⁻¹e) (WoLF-IMQ): R ← R / w shrinks an outlier's gain; c = 0 is off.</summary>
    public static double RobustWeight(double normalisedInnovation, double c) =>
        c == 0 ? 1 : c * c / (c * c + normalisedInnovation);
}
