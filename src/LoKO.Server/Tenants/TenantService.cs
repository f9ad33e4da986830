using System.Security.Cryptography;
using System.Text.Json;
using LoKO.Contracts.Rest;
using LoKO.Contracts.Validation;
using LoKO.Engine.Checkpoints;
using LoKO.Engine.Filter;
using LoKO.Server.Hosting;
using LoKO.Server.Security;
using LoKO.Server.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Orleans;

namespace LoKO.Server.Tenants;

/// <summary>
/// The operations both APIs expose, with their validation; the APIs only translate wire formats. Everything that
/// reads or changes a tenant's adapter goes to its <see cref="ITenantGrain"/>.
/// </summary>
public sealed class TenantService(IDbContextFactory<LoKODbContext> db, IGrainFactory grains, ICheckpointStore checkpoints,
                                  ModelRegistry models, TenantRateLimits rates, IOptions<LoKOOptions> options, ILogger<TenantService> logger)
{
    public InputLimits Limits => options.Value.Limits;

    public async Task<CreateTenantResponse> CreateAsync(CreateTenantRequest request, CancellationToken ct)
    {
        var errors = RequestValidator.ValidateCreateTenant(request, models.Names, LokoVariants.Names, Limits);
        if (errors.Count > 0) throw new FieldValidationException(errors);

        var optimizer = request.Optimizer ?? TenantOptimizers.Loko;
        var filter = TenantSettings.ForCreation(optimizer, request.Filter);
        if (optimizer == TenantOptimizers.Loko && TenantSettings.ValidateCombination(filter) is { Count: > 0 } combination)
            throw new FieldValidationException(combination);
        var imported = request.Adapter is null ? null : PeftImport.Prepare(await models.GetAsync(request.Preset!), request);
        var key = ApiKeys.NewKey("loko_");
        var record = new TenantRecord
        {
            TenantId = request.TenantId!,
            Preset = request.Preset!,
            ModelSha256 = await models.Sha256Async(request.Preset!),
            LabelsJson = JsonSerializer.Serialize(request.Labels, TenantSettings.Json),
            Optimizer = optimizer,
            LoraJson = JsonSerializer.Serialize(imported?.Lora ?? request.Lora ?? new LoraSettings(), TenantSettings.Json),
            FilterJson = JsonSerializer.Serialize(filter, TenantSettings.Json),
            ApiKeyHash = ApiKeys.Hash(key),
            Seed = request.Seed ?? RandomNumberGenerator.GetInt32(int.MaxValue),
            CreatedUtc = DateTime.UtcNow,
            QuotasJson = request.Quotas is null ? null : JsonSerializer.Serialize(request.Quotas, TenantSettings.Json),
        };
        await using (var context = await db.CreateDbContextAsync(ct))
        {
            if (await context.Tenants.AnyAsync(t => t.TenantId == record.TenantId, ct)) throw new TenantExistsException(record.TenantId);
            context.Tenants.Add(record);
            try { await context.SaveChangesAsync(ct); }
            catch (DbUpdateException)
            {
                // Two creations raced: the other one won.
                await using var check = await db.CreateDbContextAsync(ct);
                if (await check.Tenants.AnyAsync(t => t.TenantId == record.TenantId, ct)) throw new TenantExistsException(record.TenantId);
                throw;
            }
        }
        if (imported is not null) await StoreImportAsync(record.TenantId, imported.Theta);
        Prewarm(record.TenantId);
        return new CreateTenantResponse(record.TenantId, key);
    }

    /// <summary>
    /// Written after the tenant's row (so a losing racer cannot overwrite the winner's) and before the prewarm
    /// activates it (its key is not out yet, so no tenant request can); a tenant whose θ could not be stored is
    /// removed again rather than left to start from its seed.
    /// </summary>
    async Task StoreImportAsync(string tenantId, float[] theta)
    {
        try
        {
            using var tensor = TorchSharp.torch.tensor(theta);
            using var bytes = new MemoryStream();
            SafetensorsCodec.Write(bytes, new Dictionary<string, TorchSharp.torch.Tensor> { ["theta"] = tensor });
            await checkpoints.WriteInitialAsync(tenantId, bytes.ToArray());
        }
        catch
        {
            await using var context = await db.CreateDbContextAsync(CancellationToken.None);
            await context.Tenants.Where(t => t.TenantId == tenantId).ExecuteDeleteAsync(CancellationToken.None);
            await checkpoints.DeleteTenantAsync(tenantId, CancellationToken.None);
            throw;
        }
    }

    ITenantGrain Grain(string tenantId) => grains.GetGrain<ITenantGrain>(tenantId);

    /// <summary>Activates a new tenant in the background, so its first request finds it loaded.</summary>
    void Prewarm(string tenantId) => _ = Task.Run(async () =>
    {
        try { await Grain(tenantId).GetSchemaAsync(); }
        catch (Exception e) { logger.LogWarning(e, "Tenant {Tenant}: activation failed", tenantId); }
    });

    public Task<TenantResponse> GetAsync(string tenantId) => OnTenant(tenantId, g => g.DescribeAsync());

    /// <summary>
    /// A call that races the tenant's deletion can meet its log, files or activation half gone: once the tenant's row
    /// is gone, whatever failed is the tenant not existing (404), never a server error.
    /// </summary>
    async Task<T> OnTenant<T>(string tenantId, Func<ITenantGrain, Task<T>> call)
    {
        try
        {
            return await call(Grain(tenantId));
        }
        catch (Exception e) when (e is not (TenantNotFoundException or FieldValidationException or OperationCanceledException))
        {
            if (await ExistsAsync(tenantId)) throw;
            throw new TenantNotFoundException(tenantId);
        }
    }

    async Task<bool> ExistsAsync(string tenantId)
    {
        await using var context = await db.CreateDbContextAsync(CancellationToken.None);
        return await context.Tenants.AnyAsync(t => t.TenantId == tenantId, CancellationToken.None);
    }

    public async Task DeleteAsync(string tenantId, CancellationToken ct)
    {
        await using var context = await db.CreateDbContextAsync(ct);
        if (!await context.Tenants.AnyAsync(t => t.TenantId == tenantId, ct)) throw new TenantNotFoundException(tenantId);
        await StopForDeletionAsync(tenantId);
        await context.Tenants.Where(t => t.TenantId == tenantId).ExecuteDeleteAsync(CancellationToken.None);
        // A request between the first stop and the row's deletion may have activated the tenant again; with the row
        // gone no later activation can start, so this second stop leaves nothing running on the deleted files.
        await StopForDeletionAsync(tenantId);
        await checkpoints.DeleteTenantAsync(tenantId, CancellationToken.None);
    }

    async Task StopForDeletionAsync(string tenantId)
    {
        try { await Grain(tenantId).DeleteAsync(); }
        catch (TenantNotFoundException)
        {
            // Its row is gone: nothing can be running.
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A tenant that cannot be loaded (an unreadable checkpoint, or its row already gone) has nothing running to stop.
            logger.LogWarning(e, "Tenant {Tenant}: could not be stopped before deletion", tenantId);
        }
    }

    /// <summary>One example as the APIs receive it, validated against the tenant (label set, modality, limits).</summary>
    public sealed record IncomingExample(InputPayload? Input, string? Label, string? ExampleId, string InputField, List<FieldError> Errors);

    /// <summary><paramref name="examples"/> builds the batch once the tenant's modality is known.</summary>
    public Task<IReadOnlyList<AppendOutcome>> AppendAsync(string tenantId, Func<InputModality, IReadOnlyList<IncomingExample>> examples,
                                                          bool waitForRoom, CancellationToken ct) => OnTenant(tenantId, async grain =>
    {
        var schema = await grain.GetSchemaAsync();
        var prepared = Prepare(schema, examples(schema.Modality));
        rates.TakeExamples(tenantId, schema.Quotas, prepared.Count);
        return await grain.AppendAsync(prepared, waitForRoom, ct);
    });

    /// <summary>
    /// Appends the valid examples of a batch in one durable commit and reports each example on its own: its
    /// outcome, or the validation error that kept it out. The stream's group commit: many examples, one fsync.
    /// </summary>
    public Task<IReadOnlyList<(AppendOutcome? Outcome, FieldValidationException? Error)>> AppendEachAsync(
        string tenantId, Func<InputModality, IReadOnlyList<IncomingExample>> examples, bool waitForRoom, CancellationToken ct) => OnTenant(tenantId, async grain =>
    {
        var schema = await grain.GetSchemaAsync();
        var incoming = examples(schema.Modality);
        var results = new (AppendOutcome? Outcome, FieldValidationException? Error)[incoming.Count];
        var valid = new List<NewExample>(incoming.Count);
        var positions = new List<int>(incoming.Count);
        for (int i = 0; i < incoming.Count; i++)
        {
            try
            {
                valid.AddRange(Prepare(schema, [incoming[i]]));
                positions.Add(i);
            }
            catch (FieldValidationException e)
            {
                results[i] = (null, e);
            }
        }
        if (valid.Count > 0)
        {
            // A stream waits for its rate as it waits for room in a full queue.
            if (waitForRoom) await rates.TakeExamplesWaitingAsync(tenantId, schema.Quotas, valid.Count, TimeSpan.FromSeconds(options.Value.QueueWaitSeconds), ct);
            else rates.TakeExamples(tenantId, schema.Quotas, valid.Count);
            var outcomes = await grain.AppendAsync(valid, waitForRoom, ct);
            for (int k = 0; k < positions.Count; k++) results[positions[k]] = (outcomes[k], null);
        }
        return (IReadOnlyList<(AppendOutcome? Outcome, FieldValidationException? Error)>)results;
    });

    /// <summary>Validates a batch against the tenant; any error rejects the whole batch (nothing appended).</summary>
    List<NewExample> Prepare(TenantSchema schema, IReadOnlyList<IncomingExample> examples)
    {
        var errors = new List<FieldError>();
        var prepared = new List<NewExample>(examples.Count);
        for (int i = 0; i < examples.Count; i++)
        {
            var e = examples[i];
            var prefix = examples.Count > 1 ? $"[{i}]." : "";
            errors.AddRange(e.Errors);
            int label = RequestValidator.ValidateLabel(e.Label, schema.Labels, errors, prefix + "label");
            RequestValidator.ValidateExampleId(e.ExampleId, Limits, errors, prefix + "exampleId");
            var payload = e.Input is null ? null : StoredPayload.From(e.Input, errors, e.InputField);
            if (payload is not null && label >= 0) prepared.Add(new NewExample(payload, e.Label!, label, e.ExampleId));
        }
        if (errors.Count > 0) throw new FieldValidationException(errors);
        return prepared;
    }

    public Task<PredictionResult> PredictAsync(string tenantId, Func<InputModality, List<FieldError>, InputPayload?> input, string inputField) =>
        OnTenant(tenantId, async grain =>
    {
        var schema = await grain.GetSchemaAsync();
        var errors = new List<FieldError>();
        var payload = input(schema.Modality, errors);
        var stored = payload is null ? null : StoredPayload.From(payload, errors, inputField);
        if (errors.Count > 0 || stored is null) throw new FieldValidationException(errors);
        rates.TakePrediction(tenantId, schema.Quotas);
        return await grain.PredictAsync(stored);
    });

    /// <summary>
    /// The label of an earlier prediction: a label outside the tenant's set is a 400 naming <c>label</c>; the grain
    /// answers an unknown or expired prediction with <see cref="PredictionNotFoundException"/>.
    /// </summary>
    public Task<FeedbackAccepted> FeedbackAsync(string tenantId, string? predictionId, string? label, CancellationToken ct) => OnTenant(tenantId, async grain =>
    {
        var schema = await grain.GetSchemaAsync();
        var errors = new List<FieldError>();
        RequestValidator.ValidatePredictionId(predictionId, errors);
        int index = RequestValidator.ValidateLabel(label, schema.Labels, errors);
        if (errors.Count > 0) throw new FieldValidationException(errors);
        rates.TakeExamples(tenantId, schema.Quotas, 1);
        var outcome = await grain.FeedbackAsync(predictionId!, label!, index, ct);
        return new FeedbackAccepted(outcome.Sequence, outcome.Duplicate, PendingPredictions.ExampleIdOf(predictionId!));
    });

    /// <summary>The tenant's noise history, oldest first; it outlives compacted checkpoints (empty for the gradient baselines).</summary>
    public async Task<IReadOnlyList<NoiseEstimateResponse>> NoiseHistoryAsync(string tenantId, CancellationToken ct)
    {
        await using var context = await db.CreateDbContextAsync(ct);
        if (!await context.Tenants.AnyAsync(t => t.TenantId == tenantId, ct)) throw new TenantNotFoundException(tenantId);
        var rows = await context.NoiseHistory.AsNoTracking().Where(n => n.TenantId == tenantId).OrderBy(n => n.Version).ToListAsync(ct);
        return rows.Select(NoiseEstimates.Response).ToList();
    }

    public async Task<IReadOnlyList<CheckpointResponse>> ListCheckpointsAsync(string tenantId, CancellationToken ct)
    {
        await using var context = await db.CreateDbContextAsync(ct);
        if (!await context.Tenants.AnyAsync(t => t.TenantId == tenantId, ct)) throw new TenantNotFoundException(tenantId);
        var rows = await context.Checkpoints.AsNoTracking().Where(c => c.TenantId == tenantId).OrderBy(c => c.Version).ToListAsync(ct);
        // The noise history outlives compacted checkpoints: read only the listed versions' rows.
        var versions = rows.Select(c => c.Version).ToList();
        var noise = await context.NoiseHistory.AsNoTracking().Where(n => n.TenantId == tenantId && versions.Contains(n.Version))
            .ToDictionaryAsync(n => n.Version, n => n.Trace, ct);
        return rows.Select(c => CheckpointResponses.From(c, noise.TryGetValue(c.Version, out var t) ? t : null)).ToList();
    }

    /// <summary>Labels added to a live tenant: each error names <c>labels</c> (or <c>labels[i]</c>) and quotes the value.</summary>
    public Task<TenantResponse> AddLabelsAsync(string tenantId, IReadOnlyList<string?>? labels) => OnTenant(tenantId, async grain =>
    {
        var schema = await grain.GetSchemaAsync();
        var errors = RequestValidator.ValidateNewLabels(labels, schema.Labels, Limits);
        if (errors.Count > 0) throw new FieldValidationException(errors);
        return await grain.AddLabelsAsync([.. labels!.OfType<string>()]);
    });

    public Task<CheckpointResponse> CheckpointAsync(string tenantId) => OnTenant(tenantId, g => g.CheckpointAsync());

    public Task<TenantResponse> RollbackAsync(string tenantId, long? version)
    {
        if (version is not { } v || v < 1) throw new FieldValidationException("version", "is required: a checkpoint version (1 or more)");
        return OnTenant(tenantId, g => g.RollbackAsync(v));
    }

    public Task<TenantResponse> ResumeAsync(string tenantId) => OnTenant(tenantId, g => g.ResumeAsync());

    public Task<AdapterFile> ExportAsync(string tenantId) => OnTenant(tenantId, g => g.ExportAsync());

    /// <summary>The adapter as the zip of a PEFT LoRA adapter (adapter_config.json, adapter_model.safetensors).</summary>
    public async Task<(byte[] Zip, long AdapterVersion)> ExportPeftAsync(string tenantId)
    {
        var tenant = await GetAsync(tenantId);
        var (file, version) = await ExportAsync(tenantId);
        var model = await models.GetAsync(tenant.Preset);
        return (PeftExport.Zip(model, tenant, file), version);
    }
}
