using Orleans;

namespace LoKO.Server.Tenants;

/// <summary>404 / NOT_FOUND.</summary>
[GenerateSerializer]
public sealed class TenantNotFoundException(string tenantId) : Exception($"tenant '{tenantId}' does not exist")
{
    [Id(0)] public string TenantId { get; } = tenantId;
}

/// <summary>409 / ALREADY_EXISTS.</summary>
public sealed class TenantExistsException(string tenantId) : Exception($"tenant '{tenantId}' already exists")
{
    public string TenantId { get; } = tenantId;
}

/// <summary>The tenant's queue of accepted but unapplied examples is full: 429 with Retry-After / RESOURCE_EXHAUSTED.</summary>
[GenerateSerializer]
public sealed class QueueFullException(string tenantId, int limit, TimeSpan retryAfter)
    : Exception($"tenant '{tenantId}' already has {limit} examples waiting to be learned; retry later")
{
    [Id(0)] public TimeSpan RetryAfter { get; } = retryAfter;
}
