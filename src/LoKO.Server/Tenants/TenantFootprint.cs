namespace LoKO.Server.Tenants;

/// <summary>
/// The memory a resident tenant holds beyond the shared base model, estimated from its trainable parameter
/// count n and its number of outputs m; the resident-tenant budget is spent in these units.
/// </summary>
public static class TenantFootprint
{
    public static long Bytes(string optimizer, long parameters, int outputs) => optimizer switch
    {
        // θ, p and the divergence guard's last good θ and p (float32); R and its last good copy (float64, m×m).
        "loko" => 4 * sizeof(float) * parameters + 2 * sizeof(double) * (long)outputs * outputs,
        // θ, its gradient and AdamW's two moment estimates (float32).
        _ => 4 * sizeof(float) * parameters,
    };
}
