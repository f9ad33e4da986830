using LoKO.Contracts.Rest;
using LoKO.Server.Hosting;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Concurrency;
using Orleans.Runtime;

namespace LoKO.Server.Tenants;

/// <summary>
/// The grain that owns one tenant's <see cref="TenantActor"/>. The actor already serialises everything that
/// touches the adapter on its own loop (numeric work on the compute threads) and lets appends run beside it, so
/// the grain is reentrant and only forwards: an append is acknowledged once it is in the durable log, never
/// queued behind a learning step, a prediction or a checkpoint.
/// </summary>
[Reentrant]
public sealed class TenantGrain(TenantServices services, ResidentTenants resident, IOptions<LoKOOptions> options) : Grain, ITenantGrain
{
    // Idle collection must not stop a tenant that is still learning accepted examples.
    static readonly TimeSpan BacklogCheck = TimeSpan.FromMinutes(1);

    TenantActor? _actor;

    string TenantId => this.GetPrimaryKeyString();

    /// <summary>The live actor, marked as just used for the resident-tenant LRU.</summary>
    TenantActor Actor
    {
        get
        {
            if (_actor is not { } actor)
            {
                // Deleted, or never created: this activation ends, so a tenant created later under the id starts afresh.
                DeactivateOnIdle();
                throw new TenantNotFoundException(TenantId);
            }
            resident.Touch(TenantId);
            return actor;
        }
    }

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var context = GrainContext;
        try
        {
            _actor = await TenantActor.ActivateAsync(TenantId, services,
                () => context.Deactivate(new DeactivationReason(DeactivationReasonCode.ApplicationRequested, "fenced: a newer activation serves the tenant")),
                cancellationToken);
        }
        catch (TenantNotFoundException)
        {
            // Not an activation failure: the call that brought it here answers 404 (see Actor).
            return;
        }
        this.RegisterGrainTimer(KeepLearning, new GrainTimerCreationOptions(BacklogCheck, BacklogCheck) { Interleave = true });
        resident.Admit(TenantId, this, _actor.ResidentBytes,
            () => context.Deactivate(new DeactivationReason(DeactivationReasonCode.ApplicationRequested, "evicted: resident-tenant budget")),
            busy: () => _actor is { } a && (a.Status.QueueDepth > 0 || a.Checkpointing), writeBack: () => _actor?.WriteBack());
    }

    Task KeepLearning(CancellationToken _)
    {
        if (_actor?.Status.QueueDepth > 0) DelayDeactivation(2 * BacklogCheck);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Eviction, idle collection and migration checkpoint what was learned since the last checkpoint (unless a
    /// write-back already did), so the next activation starts from there; a silo shutdown does so when
    /// <see cref="LoKOOptions.CheckpointOnShutdown"/> is on.
    /// </summary>
    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        try
        {
            if (_actor is not { } actor) return;
            _actor = null;
            await actor.StopAsync(checkpoint: reason.ReasonCode != DeactivationReasonCode.ShuttingDown || options.Value.CheckpointOnShutdown);
        }
        finally
        {
            // Its state is disposed only now: until then its memory still counts against the budget.
            resident.Remove(TenantId, this);
        }
    }

    public Task<TenantSchema> GetSchemaAsync() => Task.FromResult(Actor.Schema);

    public Task<TenantResponse> DescribeAsync() => Task.FromResult(Actor.Describe());

    public Task<IReadOnlyList<AppendOutcome>> AppendAsync(IReadOnlyList<NewExample> examples, bool waitForRoom, CancellationToken ct) =>
        Actor.AppendAsync(examples, waitForRoom, ct);

    public Task<PredictionResult> PredictAsync(StoredPayload input) => Actor.PredictAsync(input);

    public Task<AppendOutcome> FeedbackAsync(string predictionId, string label, int labelIndex, CancellationToken ct) =>
        Actor.FeedbackAsync(predictionId, label, labelIndex, ct);

    public Task<TenantResponse> AddLabelsAsync(IReadOnlyList<string> labels) => Actor.AddLabelsAsync(labels);

    public Task<CheckpointResponse> CheckpointAsync() => Actor.CheckpointAsync();

    public async Task<TenantResponse> RollbackAsync(long version)
    {
        var actor = Actor;
        await actor.RollbackAsync(version);
        return actor.Describe();
    }

    public Task<TenantResponse> ResumeAsync() => Actor.ResumeAsync();

    public Task<AdapterFile> ExportAsync() => Actor.ExportAsync();

    public async Task DeleteAsync()
    {
        resident.Remove(TenantId, this);
        services.Metrics.Forget(TenantId);
        DeactivateOnIdle();
        if (_actor is not { } actor) return;
        _actor = null;
        await actor.StopAsync(checkpoint: false);
    }
}
