namespace LoKO.Server.Tenants;

/// <summary>
/// The memory a resident tenant holds beyond the shared base model, estimated from its trainable parameter
/// count n and its number of outputs m; the resident-tenant budget is spent in these units.
/// </summary>
public static class TenantFootprint
{
    public static long Bytes(string optimizer, long parameters, int outputs) => optimizer switch
    {
        // θ, p and the divergence guard's best θ and p (float32); R and its best copy (float64, m×m).
        TenantOptimizers.Loko => 4 * sizeof(float) * parameters + 2 * sizeof(double) * (long)outputs * outputs,
        // θ, its gradient and AdamW's two moment estimates (float32).
        TenantOptimizers.AdamW => 4 * sizeof(float) * parameters,
        // θ, its gradient and AdaGrad's sum of squared gradients (float32).
        TenantOptimizers.AdaGrad => 3 * sizeof(float) * parameters,
        // θ and its gradient (float32): plain SGD (no momentum) keeps no state.
        TenantOptimizers.Sgd => 2 * sizeof(float) * parameters,
        _ => throw new ArgumentException($"unknown optimizer '{optimizer}'", nameof(optimizer)),
    };
}
