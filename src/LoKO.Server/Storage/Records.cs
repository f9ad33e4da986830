using Orleans;

namespace LoKO.Server.Storage;

public sealed class TenantRecord
{
    public required string TenantId { get; set; }
    public required string Preset { get; set; }
    /// <summary>SHA-256 of the base model's ONNX file at creation; null for tenants stored before it was kept.</summary>
    public string? ModelSha256 { get; set; }
    /// <summary>JSON array of label names, in class-index order.</summary>
    public required string LabelsJson { get; set; }
    public required string Optimizer { get; set; }
    /// <summary>LoRA settings as JSON (LoKO.Contracts.Rest.LoraSettings).</summary>
    public required string LoraJson { get; set; }
    /// <summary>Filter settings as JSON (LoKO.Contracts.Rest.FilterSettings).</summary>
    public required string FilterJson { get; set; }
    /// <summary>SHA-256 (hex) of the tenant's API key; the key itself is never stored.</summary>
    public required string ApiKeyHash { get; set; }
    /// <summary>Seed of the adapter's initialisation, so a replay from nothing rebuilds the same θ.</summary>
    public long Seed { get; set; }
    /// <summary>The checkpoint the tenant's state descends from (0 = none): where a restart starts.</summary>
    public long CheckpointVersion { get; set; }
    /// <summary>Checkpoint versions are never reused, even after a rollback.</summary>
    public long NextCheckpointVersion { get; set; } = 1;
    public DateTime CreatedUtc { get; set; }
    /// <summary>The guard rails froze learning (examples are still logged); cleared by a resume.</summary>
    public bool Frozen { get; set; }
    /// <summary>The tenant's own quotas as JSON (LoKO.Contracts.Rest.TenantQuotas); null = the server's defaults.</summary>
    public string? QuotasJson { get; set; }
    /// <summary>
    /// Labels added after creation, oldest first, as JSON (<see cref="Tenants.LabelAddition"/>: the labels and the sequence
    /// they came after); null = none. <see cref="LabelsJson"/> already holds them: this says where in the log each joined.
    /// </summary>
    public string? LabelAdditionsJson { get; set; }
    /// <summary>
    /// Taken anew by each activation of the tenant (<see cref="TenantEpochs"/>); every append and checkpoint commits only
    /// while it is still the activation's, so a stale second activation cannot write.
    /// </summary>
    public long Epoch { get; set; }
}

/// <summary>Kinds of stored example payloads.</summary>
[GenerateSerializer]
public enum PayloadKind
{
    /// <summary>UTF-8 text.</summary>
    Text = 1,
    /// <summary>A PNG or JPEG file, decoded when applied.</summary>
    EncodedImage = 2,
    /// <summary>Interleaved 8-bit RGB, Width × Height × 3 bytes.</summary>
    Rgb = 3,
}

/// <summary>One accepted example: the durable log entry that an acknowledgement promises.</summary>
public sealed class ExampleRecord
{
    public long Id { get; set; }
    public required string TenantId { get; set; }
    /// <summary>Per tenant, from 1, in acceptance order; the order in which examples are learned.</summary>
    public long Sequence { get; set; }
    public PayloadKind PayloadKind { get; set; }
    public required byte[] Payload { get; set; }
    public int Width { get; set; }
    public int Height { get; set; }
    public required string Label { get; set; }
    public int LabelIndex { get; set; }
    /// <summary>Covered by a committed checkpoint (learned durably).</summary>
    public bool Applied { get; set; }
    /// <summary>Discarded by a rollback: never learned again.</summary>
    public bool RolledBack { get; set; }
    public DateTime AcceptedUtc { get; set; }
    public DateTime? AppliedUtc { get; set; }
    /// <summary>
    /// Feedback on an earlier prediction: the label index that prediction showed and its cross-entropy for
    /// <see cref="Label"/>. The example's prequential outcome is that prediction, not the learner's own re-prediction.
    /// </summary>
    public int? ShownLabelIndex { get; set; }
    public double? ShownLoss { get; set; }
}

/// <summary>
/// A client idempotency key and the sequence it was accepted under. Kept for the tenant's lifetime, also after
/// compaction has deleted the log entry, so a resent exampleId is always recognised.
/// </summary>
public sealed class ExampleIdRecord
{
    public required string TenantId { get; set; }
    public required string ExampleId { get; set; }
    public long Sequence { get; set; }
}

public sealed class CheckpointRecord
{
    public long Id { get; set; }
    public required string TenantId { get; set; }
    public long Version { get; set; }
    /// <summary>Relative to the data directory.</summary>
    public required string Path { get; set; }
    public long LastAppliedSequence { get; set; }
    public long ExamplesApplied { get; set; }
    public long ExamplesRejected { get; set; }
    /// <summary>Prequential hits among the applied examples (online accuracy = Correct / ExamplesApplied).</summary>
    public long Correct { get; set; }
    public DateTime CreatedUtc { get; set; }
    /// <summary>SHA-256 of the file as written (lowercase hex), checked when it is loaded; null in rows written before checksums were kept.</summary>
    public string? Sha256 { get; set; }
    /// <summary>Length of the file as written, bytes; null in rows written before it was kept.</summary>
    public long? SizeBytes { get; set; }
    /// <summary>The classes of the head the file holds; null in rows written before labels could be added (the tenant's first labels).</summary>
    public int? LabelCount { get; set; }
    /// <summary>
    /// Of a state a freeze or a rollback abandoned (a later version than the one it returned to): never a freeze's
    /// rollback target, since the log after it is learned again from the earlier state.
    /// </summary>
    public bool Discarded { get; set; }
}

/// <summary>A freeze or resume of a tenant (see <see cref="Tenants.TenantFreeze"/>), shown in its description.</summary>
public sealed class TenantEventRecord
{
    public long Id { get; set; }
    public required string TenantId { get; set; }
    public DateTime TimeUtc { get; set; }
    /// <summary>"frozen" or "resumed".</summary>
    public required string Kind { get; set; }
    public required string Reason { get; set; }
    /// <summary>The checkpoint the tenant's state descends from afterwards (0 = its initial state).</summary>
    public long CheckpointVersion { get; set; }
    public long LastAppliedSequence { get; set; }
}

/// <summary>The LoKO filter's observation-noise estimate R at a checkpoint.</summary>
public sealed class NoiseRecord
{
    public long Id { get; set; }
    public required string TenantId { get; set; }
    public long Version { get; set; }
    public double Trace { get; set; }
    /// <summary>JSON array: the diagonal of R.</summary>
    public required string DiagonalJson { get; set; }
    /// <summary>Mean of the diagonal covariance p over the parameters it covers; null in rows stored before it was kept.</summary>
    public double? MeanP { get; set; }
    public DateTime CreatedUtc { get; set; }
}

/// <summary>
/// A prediction whose input is kept for feedback: a later label for <see cref="PredictionId"/> becomes a logged
/// example. Kept until <see cref="ExpiresUtc"/> or until the tenant has too many (the oldest, lowest
/// <see cref="Id"/>, go first); the feedback's idempotency key outlives the row.
/// </summary>
public sealed class PendingPredictionRecord
{
    public long Id { get; set; }
    public required string TenantId { get; set; }
    public required string PredictionId { get; set; }
    public PayloadKind PayloadKind { get; set; }
    public required byte[] Payload { get; set; }
    public int Width { get; set; }
    public int Height { get; set; }
    /// <summary>The label index the prediction showed.</summary>
    public int PredictedIndex { get; set; }
    /// <summary>JSON array: the class probabilities shown, in label order.</summary>
    public required string ProbabilitiesJson { get; set; }
    public long AdapterVersion { get; set; }
    public DateTime CreatedUtc { get; set; }
    public DateTime ExpiresUtc { get; set; }
}

/// <summary>A checkpoint blob (or an imported tenant's initial θ) kept in the metadata store (<see cref="DatabaseCheckpoints"/>).</summary>
public sealed class CheckpointBlobRecord
{
    /// <summary>What <see cref="CheckpointRecord.Path"/> names it by.</summary>
    public required string Name { get; set; }
    public required string TenantId { get; set; }
    /// <summary>The checkpoint version; null for the initial θ.</summary>
    public long? Version { get; set; }
    public required byte[] Data { get; set; }
}
