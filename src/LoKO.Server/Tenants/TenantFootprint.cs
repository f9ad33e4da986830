using LoKO.Engine.Filter;
using LoKO.Engine.Lora;

namespace LoKO.Server.Tenants;

/// <summary>
/// The memory a resident tenant holds beyond the shared base model, estimated from its trainable parameter
/// count n, its number of outputs m and, for a LoKO filter whose head is its own block, the side d + 1 of the head's
/// full covariance Σ; the resident-tenant budget is spent in these units.
/// </summary>
public static class TenantFootprint
{
    /// <summary>The tenant's own tensors as its settings and adapter size them.</summary>
    public static long Of(TenantSettings settings, AdapterLayout layout)
    {
        if (settings.Optimizer != TenantOptimizers.Loko) return Bytes(settings.Optimizer, layout.Size, settings.Labels.Count);
        var o = settings.LokoOptions;
        bool logits = o.Observation == ObservationSpace.Logits;
        long side = logits && o.Head == HeadCovariance.Shared ? layout.FeatureDim + 1 : 0;
        return Bytes(settings.Optimizer, layout.Size, settings.Labels.Count, side, logits);
    }

    /// <param name="headCovarianceSide">d + 1 when the LoKO filter keeps a shared head's Σ, else 0.</param>
    /// <param name="logitObservation">The LoKO filter observes the logits: it keeps a mask over θ (its diagonal block).</param>
    public static long Bytes(string optimizer, long parameters, int outputs, long headCovarianceSide = 0, bool logitObservation = false) => optimizer switch
    {
        // θ, p and the divergence guard's best θ and p (float32), the logit observation's mask (float32); R and its best
        // copy (float64, m×m); a shared head's Σ and its best copy (float64, (d+1)×(d+1)) and its column prior (float32, d+1).
        TenantOptimizers.Loko => (logitObservation ? 5 : 4) * sizeof(float) * parameters + 2 * sizeof(double) * (long)outputs * outputs
                                 + 2 * sizeof(double) * headCovarianceSide * headCovarianceSide + sizeof(float) * headCovarianceSide,
        // θ, its gradient and AdamW's two moment estimates (float32).
        TenantOptimizers.AdamW => 4 * sizeof(float) * parameters,
        // θ, its gradient and AdaGrad's sum of squared gradients (float32).
        TenantOptimizers.AdaGrad => 3 * sizeof(float) * parameters,
        // θ and its gradient (float32): plain SGD (no momentum) keeps no state.
        TenantOptimizers.Sgd => 2 * sizeof(float) * parameters,
        _ => throw new ArgumentException($"unknown optimizer '{optimizer}'", nameof(optimizer)),
    };
}
