using System.Text.Json;
using LoKO.Contracts.Rest;
using LoKO.Contracts.Validation;
using LoKO.Engine.Filter;
using LoKO.Engine.Lora;
using LoKO.Server.Storage;

namespace LoKO.Server.Tenants;

/// <summary>A tenant's definition, parsed from its stored row, and its mapping onto engine options.</summary>
public sealed record TenantSettings(string TenantId, string Preset, IReadOnlyList<string> Labels, string Optimizer,
                                    LoraSettings Lora, FilterSettings Filter, long Seed, DateTime CreatedUtc,
                                    TenantQuotas? Quotas = null, string? ModelSha256 = null,
                                    IReadOnlyList<LabelAddition>? LabelAdditions = null)
{
    /// <summary>Labels added after creation, oldest first (their names are already in <see cref="Labels"/>).</summary>
    public IReadOnlyList<LabelAddition> Additions => LabelAdditions ?? [];

    /// <summary>The labels the tenant was created with: its first head's classes.</summary>
    public int InitialLabelCount => Labels.Count - Additions.Sum(a => a.Labels.Count);

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>
    /// The variant of a stored tenant whose filter settings name none. Tenants created before variants existed
    /// were stored without one, and they were created — and have learned — with the paper's filter, the only one
    /// there was; they must keep it whatever <see cref="LokoVariants.Default"/> becomes.
    /// </summary>
    public const string LegacyVariant = LokoVariants.Paper;

    /// <summary>
    /// The filter settings a new tenant stores: a loko tenant's variant is resolved now (the request's, else
    /// <see cref="LokoVariants.Default"/>), so that a later change of the default never changes an existing tenant.
    /// The gradient baselines use no filter and store only what was asked.
    /// </summary>
    public static FilterSettings ForCreation(string optimizer, FilterSettings? requested)
    {
        var filter = requested ?? new FilterSettings();
        return optimizer == TenantOptimizers.Loko ? filter with { Variant = filter.Variant ?? LokoVariants.Default } : filter;
    }

    public static TenantSettings FromRecord(TenantRecord r) => new(
        r.TenantId, r.Preset,
        JsonSerializer.Deserialize<List<string>>(r.LabelsJson, Json)!,
        r.Optimizer,
        JsonSerializer.Deserialize<LoraSettings>(r.LoraJson, Json)!,
        JsonSerializer.Deserialize<FilterSettings>(r.FilterJson, Json)!,
        r.Seed, r.CreatedUtc,
        r.QuotasJson is null ? null : JsonSerializer.Deserialize<TenantQuotas>(r.QuotasJson, Json),
        r.ModelSha256,
        r.LabelAdditionsJson is null ? null : JsonSerializer.Deserialize<List<LabelAddition>>(r.LabelAdditionsJson, Json));

    public LoraOptions LoraOptions => new()
    {
        Rank = Lora.Rank ?? 8,
        Alpha = Lora.Alpha ?? 16,
        Targets = Lora.Targets,
    };

    /// <summary>The LoKO filter variant the tenant learns with: the stored one, else <see cref="LegacyVariant"/>.</summary>
    public string Variant => Filter.Variant ?? LegacyVariant;

    /// <summary>The filter settings as a description shows them: a loko tenant's with its variant.</summary>
    public FilterSettings DescribedFilter => Optimizer == TenantOptimizers.Loko ? Filter with { Variant = Variant } : Filter;

    /// <summary>The variant's options, then the tenant's explicit settings over them.</summary>
    public LokoOptions LokoOptions => OptionsFor(Filter with { Variant = Variant });

    /// <summary>The options of <paramref name="filter"/>'s variant with its explicit settings over them.</summary>
    public static LokoOptions OptionsFor(FilterSettings filter)
    {
        var o = LokoVariants.Named(filter.Variant ?? LegacyVariant);
        if (filter.P0 is { } p0) o = o with { P0 = Enum.Parse<InitialCovariance>(p0, ignoreCase: true) };
        if (filter.P0Constant is { } c) o = o with { P0Constant = c };
        if (filter.R0 is { } r0) o = o with { R0 = r0 };
        if (filter.Beta is { } beta) o = o with { Beta = beta };
        if (filter.Q is { } q) o = o with { Q = q };
        if (filter.Noise is { } noise) o = o with { Noise = Enum.Parse<NoiseStructure>(noise, ignoreCase: true) };
        return o;
    }

    /// <summary>
    /// Errors of settings that are each valid but do not fit the variant (e.g. the paper's bounded P₀ under the
    /// natural variant), each naming its field: checked at creation, so a tenant never fails at activation.
    /// </summary>
    public static List<FieldError> ValidateCombination(FilterSettings filter)
    {
        try
        {
            OptionsFor(filter).Validate();
            return [];
        }
        catch (ArgumentException e)
        {
            var message = e.ParamName is null ? e.Message : e.Message.Replace($" (Parameter '{e.ParamName}')", "");
            if (e is ArgumentOutOfRangeException { ActualValue: { } actual }) message = message.Replace($"{Environment.NewLine}Actual value was {actual}.", "");
            return [new FieldError($"filter.{e.ParamName ?? "variant"}", $"{message} (variant '{filter.Variant ?? LegacyVariant}')")];
        }
    }

    /// <summary>A gradient baseline's learning rate: the tenant's, else its optimizer's default.</summary>
    public double LearningRate => Filter.LearningRate ?? TenantOptimizers.DefaultLearningRate(Optimizer);
}
