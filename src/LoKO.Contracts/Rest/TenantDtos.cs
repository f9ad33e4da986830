using System.Text.Json.Serialization;

namespace LoKO.Contracts.Rest;

/// <summary>POST /v1/tenants. Unset settings take their defaults.</summary>
public sealed record CreateTenantRequest
{
    public string? TenantId { get; init; }
    /// <summary>"minilm-l6" (text) or "resnet18" (images).</summary>
    public string? Preset { get; init; }
    /// <summary>The tenant's label set: at least two distinct names.</summary>
    public IReadOnlyList<string>? Labels { get; init; }
    /// <summary>"loko" (default), or one of the gradient baselines "adamw", "adagrad", "sgd".</summary>
    public string? Optimizer { get; init; }
    public LoraSettings? Lora { get; init; }
    public FilterSettings? Filter { get; init; }
    /// <summary>
    /// Seed of the adapter's initial values (0 or more): the same seed, settings and examples give the same adapter.
    /// Unset: a random seed, chosen at creation and shown in the tenant's description.
    /// </summary>
    public long? Seed { get; init; }
}

public sealed record LoraSettings
{
    public int? Rank { get; init; }
    public double? Alpha { get; init; }
    /// <summary>Site globs; unset means the preset's default sites.</summary>
    public IReadOnlyList<string>? Targets { get; init; }
}

/// <summary>LoKO filter settings (and the learning rate of the gradient baselines).</summary>
public sealed record FilterSettings
{
    /// <summary>
    /// The named filter configuration the other settings start from (one of the server's variants, e.g. "paper").
    /// Unset at creation: the server's default variant, stored with the tenant.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Variant { get; init; }
    /// <summary>"auto" (default), "autonormalised", "constant" or "bounded".</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? P0 { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? P0Constant { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? R0 { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? Beta { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? Q { get; init; }
    /// <summary>"full" (default) or "diagonal".</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Noise { get; init; }
    /// <summary>The gradient baselines only (defaults: adamw 1e-3, adagrad 1e-2, sgd 1e-2).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? LearningRate { get; init; }
}

public sealed record CreateTenantResponse(string TenantId, string ApiKey);

public sealed record TenantResponse
{
    public required string TenantId { get; init; }
    public required string Preset { get; init; }
    public required IReadOnlyList<string> Labels { get; init; }
    public required string Optimizer { get; init; }
    public required LoraSettings Lora { get; init; }
    public FilterSettings? Filter { get; init; }
    public long ExamplesAccepted { get; init; }
    public long ExamplesApplied { get; init; }
    public long ExamplesRejected { get; init; }
    /// <summary>Prequential (predict-before-update) accuracy over every applied example; null before the first.</summary>
    public double? OnlineAccuracy { get; init; }
    /// <summary>0 when no checkpoint exists yet.</summary>
    public long CheckpointVersion { get; init; }
    public long LastAppliedSequence { get; init; }
    public long QueueDepth { get; init; }
    /// <summary>The adapter's initialisation seed.</summary>
    public long Seed { get; init; }
    public DateTimeOffset CreatedUtc { get; init; }
}

public sealed record CheckpointResponse(long Version, long LastAppliedSequence, long ExamplesApplied, DateTimeOffset CreatedUtc, double? NoiseTrace);

public sealed record RollbackRequest
{
    public long? Version { get; init; }
}
