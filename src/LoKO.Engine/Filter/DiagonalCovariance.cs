using LoKO.Engine.Platform;
using static TorchSharp.torch;

namespace LoKO.Engine.Filter;

/// <summary>
/// Updates of the diagonal p [n] under the logit observation (KALMAN-QUALITY.md, candidates C and D). J [C, n] is
/// ∂z/∂θ, g [n] = Jᵀ·e the log-likelihood gradient. Each returns a new tensor: a rejected step keeps p as it was.
/// </summary>
public static class DiagonalCovariance
{
    /// <summary>Covariance form, p ← p − p² ⊙ diag(Jᵀ·M·J), M = (τI + Λ·V)⁻¹·Λ: the exact diagonal of (I − K·H)·P.</summary>
    public static Tensor CovarianceForm(Tensor p, Tensor j, Tensor m) =>
        p - p * p * (matmul(m.to(j.dtype), j) * j).sum(dim: 0);

    /// <summary>Precision form (VD-EKF), 1/p ← 1/p + diag(Jᵀ·Λ·J)/τ, written so that p = 0 (no prior) stays 0.</summary>
    public static Tensor PrecisionForm(Tensor p, Tensor j, Tensor lambda, double tau) =>
        p / (p * (matmul(lambda.to(j.dtype), j) * j).sum(dim: 0)).Over(tau).Plus(1);

    /// <summary>Rank-1 covariance form with the empirical Fisher g·gᵀ: p ← p − p²⊙g² / (τ + gᵀ·(p⊙g)).</summary>
    public static Tensor GradientCovarianceForm(Tensor p, Tensor g, double tau)
    {
        var pg = p * g;
        return p - pg * pg / pg.dot(g).Plus(tau);
    }

    /// <summary>Rank-1 precision form (BONG, empirical Fisher): 1/p ← 1/p + g²/τ.</summary>
    public static Tensor GradientPrecisionForm(Tensor p, Tensor g, double tau) => p / (p * g * g).Over(tau).Plus(1);

    /// <summary>Square-root information: 1/p² ← 1/p² + g²/s².</summary>
    public static Tensor GradientRootPrecisionForm(Tensor p, Tensor g, double s) => p / (p * g).Over(s).Squared().Plus(1).sqrt();

    /// <summary>Mean-reverting process noise, p ← γ²·p + (1 − γ²)·p₀: a step-size floor and a cap on wind-up.</summary>
    public static Tensor Revert(Tensor p, Tensor p0, double gamma) =>
        gamma == 1 ? p : p.Times(gamma * gamma).Plus(p0.Times(1 - gamma * gamma));
}
