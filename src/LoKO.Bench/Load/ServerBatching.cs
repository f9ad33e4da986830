namespace LoKO.Bench.Load;

/// <summary>The server's cross-tenant batching setting (LoKO:BatchTenants), as /readyz names it; absent while batching is off.</summary>
sealed record ServerBatching(int MaxTenants, double MaxWaitMs);
