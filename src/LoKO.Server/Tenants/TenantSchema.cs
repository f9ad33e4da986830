using LoKO.Contracts.Validation;
using Orleans;

namespace LoKO.Server.Tenants;

/// <summary>
/// What the APIs check an example or input against: the tenant's labels, the modality its base model takes, and the
/// quotas in force.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record TenantSchema(IReadOnlyList<string> Labels, InputModality Modality, QuotaLimits Quotas);
