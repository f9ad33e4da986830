namespace LoKO.Bench.Load;

/// <summary>
/// Time from sending CreateTenant to receiving the tenant's first prediction: the server starts activating a tenant
/// (adapter and optimizer state built) as soon as it is created, and the first Predict waits for that. The first
/// tenant of a server that has not loaded the preset yet also waits for the base model.
/// </summary>
sealed record ColdStart(double FirstTenantMs, double TenantMs, double CreateMs);
