namespace LoKO.Server.Tenants;

/// <summary>404 / NOT_FOUND.</summary>
public sealed class TenantNotFoundException(string tenantId) : Exception($"tenant '{tenantId}' does not exist")
{
    public string TenantId { get; } = tenantId;
}

/// <summary>409 / ALREADY_EXISTS.</summary>
public sealed class TenantExistsException(string tenantId) : Exception($"tenant '{tenantId}' already exists")
{
    public string TenantId { get; } = tenantId;
}

/// <summary>The tenant's queue of accepted but unapplied examples is full: 429 with Retry-After / RESOURCE_EXHAUSTED.</summary>
public sealed class QueueFullException(string tenantId, int limit, TimeSpan retryAfter)
    : Exception($"tenant '{tenantId}' already has {limit} examples waiting to be learned; retry later")
{
    public TimeSpan RetryAfter { get; } = retryAfter;
}
