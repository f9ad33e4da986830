using LoKO.Contracts.Rest;
using Orleans;

namespace LoKO.Server.Tenants;

/// <summary>
/// One tenant, one grain (keyed by tenant id): activation loads the tenant's latest checkpoint and queues the
/// rest of its log for replay; every operation on its adapter goes through here, on whichever silo holds it.
/// </summary>
[Alias("loko.tenant")]
public interface ITenantGrain : IGrainWithStringKey
{
    /// <summary>The labels and input modality the APIs validate against (also activates the tenant).</summary>
    [Alias("schema")]
    Task<TenantSchema> GetSchemaAsync();

    [Alias("describe")]
    Task<TenantResponse> DescribeAsync();

    /// <summary>Durably appends validated examples to the log; returns before they are learned.</summary>
    [Alias("append")]
    Task<IReadOnlyList<AppendOutcome>> AppendAsync(IReadOnlyList<NewExample> examples, bool waitForRoom, CancellationToken ct);

    [Alias("predict")]
    Task<PredictionResult> PredictAsync(StoredPayload input);

    /// <summary>The (validated) label of a kept prediction: appended once as an example; a repeat answers the original sequence.</summary>
    [Alias("feedback")]
    Task<AppendOutcome> FeedbackAsync(string predictionId, string label, int labelIndex, CancellationToken ct);

    /// <summary>Adds labels (validated again against the tenant's labels); the head grows at the addition's place in the log.</summary>
    [Alias("addLabels")]
    Task<TenantResponse> AddLabelsAsync(IReadOnlyList<string> labels);

    [Alias("checkpoint")]
    Task<CheckpointResponse> CheckpointAsync();

    [Alias("rollback")]
    Task<TenantResponse> RollbackAsync(long version);

    /// <summary>Ends a freeze by the guard rails; the log after the state it returned to is learned again, in order.</summary>
    [Alias("resume")]
    Task<TenantResponse> ResumeAsync();

    [Alias("export")]
    Task<AdapterFile> ExportAsync();

    /// <summary>Stops the tenant without a checkpoint and deactivates it (the tenant is being deleted).</summary>
    [Alias("delete")]
    Task DeleteAsync();
}
