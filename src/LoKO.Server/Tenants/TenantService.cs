using System.Security.Cryptography;
using System.Text.Json;
using LoKO.Contracts.Rest;
using LoKO.Contracts.Validation;
using LoKO.Engine.Presets;
using LoKO.Server.Hosting;
using LoKO.Server.Security;
using LoKO.Server.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LoKO.Server.Tenants;

/// <summary>The operations both APIs expose, with their validation; the APIs only translate wire formats.</summary>
public sealed class TenantService(IDbContextFactory<LoKODbContext> db, ITenantRuntime runtime, CheckpointFiles files, IOptions<LoKOOptions> options)
{
    public InputLimits Limits => options.Value.Limits;

    public async Task<CreateTenantResponse> CreateAsync(CreateTenantRequest request, CancellationToken ct)
    {
        var errors = RequestValidator.ValidateCreateTenant(request, ModelPresets.Names.ToList(), Limits);
        if (errors.Count > 0) throw new FieldValidationException(errors);

        var key = ApiKeys.NewKey("loko_");
        var record = new TenantRecord
        {
            TenantId = request.TenantId!,
            Preset = request.Preset!,
            LabelsJson = JsonSerializer.Serialize(request.Labels, TenantSettings.Json),
            Optimizer = request.Optimizer ?? "loko",
            LoraJson = JsonSerializer.Serialize(request.Lora ?? new LoraSettings(), TenantSettings.Json),
            FilterJson = JsonSerializer.Serialize(request.Filter ?? new FilterSettings(), TenantSettings.Json),
            ApiKeyHash = ApiKeys.Hash(key),
            Seed = request.Seed ?? RandomNumberGenerator.GetInt32(int.MaxValue),
            CreatedUtc = DateTime.UtcNow,
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
        runtime.Prewarm(record.TenantId);
        return new CreateTenantResponse(record.TenantId, key);
    }

    public async Task<TenantResponse> GetAsync(string tenantId, CancellationToken ct)
    {
        var actor = await runtime.GetAsync(tenantId, ct);
        return Describe(actor);
    }

    public static TenantResponse Describe(TenantActor actor)
    {
        var s = actor.Settings;
        var status = actor.Status;
        return new TenantResponse
        {
            TenantId = s.TenantId, Preset = s.Preset, Labels = s.Labels, Optimizer = s.Optimizer,
            Lora = new LoraSettings { Rank = s.LoraOptions.Rank, Alpha = s.LoraOptions.Alpha, Targets = s.Lora.Targets ?? actor.DefaultTargets },
            Filter = s.Filter,
            ExamplesAccepted = status.ExamplesAccepted, ExamplesApplied = status.ExamplesApplied, ExamplesRejected = status.ExamplesRejected,
            OnlineAccuracy = status.OnlineAccuracy, CheckpointVersion = status.CheckpointVersion,
            LastAppliedSequence = status.LastAppliedSequence, QueueDepth = status.QueueDepth, Seed = s.Seed,
            CreatedUtc = new DateTimeOffset(DateTime.SpecifyKind(s.CreatedUtc, DateTimeKind.Utc)),
        };
    }

    public async Task DeleteAsync(string tenantId, CancellationToken ct)
    {
        await using var context = await db.CreateDbContextAsync(ct);
        if (!await context.Tenants.AnyAsync(t => t.TenantId == tenantId, ct)) throw new TenantNotFoundException(tenantId);
        await runtime.DeactivateAsync(tenantId);
        await context.Tenants.Where(t => t.TenantId == tenantId).ExecuteDeleteAsync(CancellationToken.None);
        files.DeleteTenant(tenantId);
    }

    /// <summary>One example as the APIs receive it, validated against the tenant (label set, modality, limits).</summary>
    public sealed record IncomingExample(InputPayload? Input, string? Label, string? ExampleId, string InputField, List<FieldError> Errors);

    /// <summary><paramref name="examples"/> builds the batch once the tenant's modality is known.</summary>
    public async Task<IReadOnlyList<AppendOutcome>> AppendAsync(string tenantId, Func<InputModality, IReadOnlyList<IncomingExample>> examples,
                                                                bool waitForRoom, CancellationToken ct)
    {
        var actor = await runtime.GetAsync(tenantId, ct);
        var prepared = Prepare(actor, examples(actor.Modality));
        return await actor.AppendAsync(prepared, waitForRoom, ct);
    }

    /// <summary>Validates a batch against the tenant; any error rejects the whole batch (nothing appended).</summary>
    public List<NewExample> Prepare(TenantActor actor, IReadOnlyList<IncomingExample> examples)
    {
        var errors = new List<FieldError>();
        var prepared = new List<NewExample>(examples.Count);
        for (int i = 0; i < examples.Count; i++)
        {
            var e = examples[i];
            var prefix = examples.Count > 1 ? $"[{i}]." : "";
            errors.AddRange(e.Errors);
            int label = RequestValidator.ValidateLabel(e.Label, actor.Settings.Labels, errors, prefix + "label");
            RequestValidator.ValidateExampleId(e.ExampleId, Limits, errors, prefix + "exampleId");
            var payload = e.Input is null ? null : StoredPayload.From(e.Input, errors, e.InputField);
            if (payload is not null && label >= 0) prepared.Add(new NewExample(payload, e.Label!, label, e.ExampleId));
        }
        if (errors.Count > 0) throw new FieldValidationException(errors);
        return prepared;
    }

    public async Task<PredictionResult> PredictAsync(string tenantId, Func<InputModality, List<FieldError>, InputPayload?> input, string inputField, CancellationToken ct)
    {
        var actor = await runtime.GetAsync(tenantId, ct);
        var errors = new List<FieldError>();
        var payload = input(actor.Modality, errors);
        var stored = payload is null ? null : StoredPayload.From(payload, errors, inputField);
        if (errors.Count > 0 || stored is null) throw new FieldValidationException(errors);
        return await actor.PredictAsync(stored);
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
        return rows.Select(c => ToResponse(c, noise.TryGetValue(c.Version, out var t) ? t : null)).ToList();
    }

    public static CheckpointResponse ToResponse(CheckpointRecord c, double? noiseTrace) =>
        new(c.Version, c.LastAppliedSequence, c.ExamplesApplied, new DateTimeOffset(DateTime.SpecifyKind(c.CreatedUtc, DateTimeKind.Utc)), noiseTrace);

    public async Task<CheckpointResponse> CheckpointAsync(string tenantId, CancellationToken ct)
    {
        var actor = await runtime.GetAsync(tenantId, ct);
        var record = await actor.CheckpointAsync();
        if (record is null) throw new InvalidOperationException("no checkpoint was written");
        await using var context = await db.CreateDbContextAsync(ct);
        var trace = await context.NoiseHistory.AsNoTracking().Where(n => n.TenantId == tenantId && n.Version == record.Version)
            .Select(n => (double?)n.Trace).FirstOrDefaultAsync(ct);
        return ToResponse(record, trace);
    }

    public async Task<TenantResponse> RollbackAsync(string tenantId, long? version, CancellationToken ct)
    {
        if (version is not { } v || v < 1) throw new FieldValidationException("version", "is required: a checkpoint version (1 or more)");
        var actor = await runtime.GetAsync(tenantId, ct);
        await actor.RollbackAsync(v);
        return Describe(actor);
    }

    public async Task<(byte[] File, long AdapterVersion)> ExportAsync(string tenantId, CancellationToken ct)
    {
        var actor = await runtime.GetAsync(tenantId, ct);
        return await actor.ExportAsync();
    }
}
