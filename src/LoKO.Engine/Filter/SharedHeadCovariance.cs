using LoKO.Engine.Platform;
using TorchSharp;
using static TorchSharp.torch;

namespace LoKO.Engine.Filter;

/// <summary>
/// The head as its own block (KALMAN-QUALITY.md, candidate B): prior I_C ⊗ Σ over the head rows w̃_c = [W_c, b_c],
/// Σ full over φ̃ = [φ; 1] [d + 1]. Since ∂z_c/∂w̃_c = φ̃, the head adds s·I_C to the logits' prior covariance,
/// s = φ̃ᵀ·Σ·φ̃, and needs no reverse pass. Σ is float64.
/// </summary>
public static class SharedHeadCovariance
{
    /// <summary>φ̃ = [φ; 1].</summary>
    public static Tensor Augment(Tensor features) =>
        cat([features, ones(1, dtype: features.dtype, device: features.device)]);

    /// <summary>Σ₀ = v_h / ‖φ̃‖² · I: each logit's prior variance from the head is v_h at the first example.</summary>
    public static double PriorScale(Tensor phi, double headPriorVariance) =>
        headPriorVariance / phi.Squared().sum().Value();

    /// <summary>
    /// Σ ← Σ − λ̄·a·aᵀ / (τ + λ̄·s), a = Σ·φ̃: recursive least squares with one scalar precision λ̄ = tr(Λ) / (C − 1)
    /// (the mean non-zero eigenvalue of Λ) standing in for Λ; exact for a Gaussian likelihood.
    /// </summary>
    public static Tensor Update(Tensor sigma, Tensor a, double s, Tensor lambda, double tau)
    {
        long c = lambda.shape[0];
        double lambdaBar = lambda.trace().Value() / Math.Max(c - 1, 1);
        return sigma - a.outer(a).Times(lambdaBar / (tau + lambdaBar * s));
    }
}
