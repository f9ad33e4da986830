using System.Text.Json;
using LoKO.Contracts.Rest;
using LoKO.Engine.Filter;
using LoKO.Engine.Lora;
using LoKO.Server.Storage;

namespace LoKO.Server.Tenants;

/// <summary>A tenant's definition, parsed from its stored row, and its mapping onto engine options.</summary>
public sealed record TenantSettings(string TenantId, string Preset, IReadOnlyList<string> Labels, string Optimizer,
                                    LoraSettings Lora, FilterSettings Filter, long Seed, DateTime CreatedUtc)
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    public const double DefaultLearningRate = 1e-3;

    public static TenantSettings FromRecord(TenantRecord r) => new(
        r.TenantId, r.Preset,
        JsonSerializer.Deserialize<List<string>>(r.LabelsJson, Json)!,
        r.Optimizer,
        JsonSerializer.Deserialize<LoraSettings>(r.LoraJson, Json)!,
        JsonSerializer.Deserialize<FilterSettings>(r.FilterJson, Json)!,
        r.Seed, r.CreatedUtc);

    public LoraOptions LoraOptions => new()
    {
        Rank = Lora.Rank ?? 8,
        Alpha = Lora.Alpha ?? 16,
        Targets = Lora.Targets,
    };

    public LokoOptions LokoOptions
    {
        get
        {
            var o = new LokoOptions();
            if (Filter.P0 is { } p0) o = o with { P0 = Enum.Parse<InitialCovariance>(p0, ignoreCase: true) };
            if (Filter.P0Constant is { } c) o = o with { P0Constant = c };
            if (Filter.R0 is { } r0) o = o with { R0 = r0 };
            if (Filter.Beta is { } beta) o = o with { Beta = beta };
            if (Filter.Q is { } q) o = o with { Q = q };
            if (Filter.Noise is { } noise) o = o with { Noise = Enum.Parse<NoiseStructure>(noise, ignoreCase: true) };
            return o;
        }
    }

    public double LearningRate => Filter.LearningRate ?? DefaultLearningRate;
}
