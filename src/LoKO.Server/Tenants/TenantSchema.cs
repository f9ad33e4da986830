using LoKO.Contracts.Validation;
using Orleans;

namespace LoKO.Server.Tenants;

/// <summary>What the APIs validate an example or input against: the tenant's labels and the modality its base model takes.</summary>
[GenerateSerializer, Immutable]
public sealed record TenantSchema(IReadOnlyList<string> Labels, InputModality Modality);
