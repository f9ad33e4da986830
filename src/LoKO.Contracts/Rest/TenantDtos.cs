using System.Text.Json.Serialization;

namespace LoKO.Contracts.Rest;

/// <summary>POST /v1/tenants/{id}/labels: labels to add to the tenant's set, in the order their classes are appended.</summary>
public sealed record AddLabelsRequest
{
    public IReadOnlyList<string?>? Labels { get; init; }
}

/// <summary>POST /v1/tenants. Unset settings take their defaults.</summary>
public sealed record CreateTenantRequest
{
    public string? TenantId { get; init; }
    /// <summary>The base model: "minilm-l6" (text), "resnet18" (images) or one configured under LoKO:Models (GET /v1/models lists them).</summary>
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
    /// <summary>The tenant's own rate limits and log cap (creation takes the admin key); unset fields take the server's defaults.</summary>
    public TenantQuotas? Quotas { get; init; }
    /// <summary>
    /// A PEFT LoRA adapter (the zip GET …/adapter?format=peft returns: adapter_config.json and
    /// adapter_model.safetensors), base64 in JSON: the tenant starts from its A, B and head instead of from its seed.
    /// Rank, alpha and targets come from its config; lora settings, when given, must agree.
    /// </summary>
    public byte[]? Adapter { get; init; }
}

/// <summary>
/// A tenant's rate limits and log cap; 0 = unlimited. At creation, unset fields take the server's defaults
/// (LoKO:Quotas:*); a description shows every limit in force.
/// </summary>
public sealed record TenantQuotas
{
    /// <summary>Examples (appends and feedback) per second; bursts up to one second's worth.</summary>
    public double? ExamplesPerSecond { get; init; }
    /// <summary>Predictions per second; bursts up to one second's worth.</summary>
    public double? PredictionsPerSecond { get; init; }
    /// <summary>Log entries kept (accepted and not yet compacted away) beyond which appends are refused.</summary>
    public long? MaxLogEntries { get; init; }
}

/// <summary>Something the service did to a tenant (a freeze by the guard rails, a resume), with its figures.</summary>
public sealed record TenantEvent(DateTimeOffset TimeUtc, string Kind, string Reason, long CheckpointVersion, long LastAppliedSequence)
{
    public const string Frozen = "frozen";
    public const string Resumed = "resumed";
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
    /// <summary>The base model's name.</summary>
    public required string Preset { get; init; }
    /// <summary>SHA-256 of the base model's ONNX file when the tenant was created (null for tenants stored before it was kept).</summary>
    public string? ModelSha256 { get; init; }
    /// <summary>The tenant's labels, in class order: the ones it was created with, then those added since.</summary>
    public required IReadOnlyList<string> Labels { get; init; }
    /// <summary>
    /// The classes the adapter's head has now: the first of <see cref="Labels"/>. Fewer than the labels only while an
    /// addition waits for the examples accepted before it to be learned (or, frozen, for the resume).
    /// </summary>
    public int HeadLabels { get; init; }
    public required string Optimizer { get; init; }
    public required LoraSettings Lora { get; init; }
    public FilterSettings? Filter { get; init; }
    /// <summary>The device the tenant's steps and predictions run on: "cpu" or "cuda:N".</summary>
    public string Device { get; init; } = "cpu";
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
    /// <summary>The limits in force: the tenant's own, else the server's defaults (0 = unlimited).</summary>
    public TenantQuotas? Quotas { get; init; }
    /// <summary>Log entries kept: accepted and not yet compacted away (what quotas.maxLogEntries caps).</summary>
    public long LogEntries { get; init; }
    /// <summary>
    /// The guard rails froze learning: examples are still accepted and logged and predictions served, but no step is
    /// applied until POST …/resume.
    /// </summary>
    public bool Frozen { get; init; }
    /// <summary>The latest freeze and resume events, oldest first.</summary>
    public IReadOnlyList<TenantEvent> Events { get; init; } = [];
}

public sealed record CheckpointResponse(long Version, long LastAppliedSequence, long ExamplesApplied, DateTimeOffset CreatedUtc, double? NoiseTrace);

public sealed record RollbackRequest
{
    public long? Version { get; init; }
}
