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

/// <summary>
/// Feedback names a prediction the tenant does not keep (unknown, expired or dropped by the bound): 404 / NOT_FOUND
/// naming predictionId.
/// </summary>
[GenerateSerializer]
public sealed class PredictionNotFoundException(string predictionId, string reason)
    : Exception($"prediction '{predictionId}' is not kept: {reason}")
{
    public const string Field = "predictionId";
    [Id(0)] public string PredictionId { get; } = predictionId;
}

/// <summary>Resume of a tenant that is not frozen: 409 / FAILED_PRECONDITION.</summary>
[GenerateSerializer]
public sealed class TenantNotFrozenException(string tenantId) : Exception($"tenant '{tenantId}' is not frozen: there is nothing to resume")
{
    [Id(0)] public string TenantId { get; } = tenantId;
}

/// <summary>
/// The metadata store or the data directory refused a write (read-only, full, out of reach): nothing was
/// acknowledged; 503 with Retry-After / UNAVAILABLE. The same request may succeed once the fault clears.
/// </summary>
[GenerateSerializer]
public sealed class StorageUnavailableException(string message, TimeSpan retryAfter) : Exception(message)
{
    [Id(0)] public TimeSpan RetryAfter { get; } = retryAfter;
}

/// <summary>
/// A stored tenant's base model is not offered as it was (unregistered, or its file changed): the tenant is not loaded,
/// so nothing it learned is applied to another model; 409 / FAILED_PRECONDITION until the model is registered again.
/// </summary>
[GenerateSerializer]
public sealed class TenantModelException(string tenantId, string message) : Exception(message)
{
    [Id(0)] public string TenantId { get; } = tenantId;
}
