using System.Text.Json;
using System.Text.Json.Nodes;

namespace LoKO.Engine.Peft;

/// <summary>
/// adapter_config.json of a PEFT LoRA adapter. Written with only keys PEFT 0.10 knows (before 0.14 PEFT rejects
/// unknown keys); read leniently, but a setting that would change the adapter's function (rsLoRA or DoRA
/// scaling, per-module ranks, biases, transposed weights) is refused naming its key.
/// </summary>
public sealed record PeftConfig(int Rank, double Alpha, IReadOnlyList<string> TargetModules, IReadOnlyList<string> ModulesToSave,
                                string? BaseModelName, string? TaskType)
{
    public const string FileName = "adapter_config.json";

    /// <summary>Every key this writer emits, all of them known to PEFT 0.10+.</summary>
    public static IReadOnlyList<string> WrittenKeys { get; } =
    [
        "peft_type", "task_type", "base_model_name_or_path", "revision", "inference_mode", "r", "lora_alpha", "lora_dropout",
        "fan_in_fan_out", "bias", "use_rslora", "use_dora", "modules_to_save", "init_lora_weights", "target_modules",
        "layers_to_transform", "layers_pattern", "rank_pattern", "alpha_pattern",
    ];

    public string ToJson()
    {
        var json = new JsonObject
        {
            ["peft_type"] = "LORA",
            ["task_type"] = TaskType,
            ["base_model_name_or_path"] = BaseModelName,
            ["revision"] = null,
            ["inference_mode"] = true,
            ["r"] = Rank,
            ["lora_alpha"] = Alpha,
            ["lora_dropout"] = 0.0,
            ["fan_in_fan_out"] = false,
            ["bias"] = "none",
            ["use_rslora"] = false,
            ["use_dora"] = false,
            ["modules_to_save"] = new JsonArray([.. ModulesToSave.Select(m => (JsonNode?)m)]),
            ["init_lora_weights"] = true,
            ["target_modules"] = new JsonArray([.. TargetModules.Select(m => (JsonNode?)m)]),
            ["layers_to_transform"] = null,
            ["layers_pattern"] = null,
            ["rank_pattern"] = new JsonObject(),
            ["alpha_pattern"] = new JsonObject(),
        };
        return json.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    public static PeftConfig Parse(string text)
    {
        JsonObject json;
        try { json = JsonNode.Parse(text) as JsonObject ?? throw new PeftFormatException(Field(""), "must be a JSON object"); }
        catch (JsonException e) { throw new PeftFormatException(Field(""), $"is not valid JSON: {e.Message}"); }

        if (Text(json, "peft_type") != "LORA") throw new PeftFormatException(Field("peft_type"), "must be \"LORA\"");
        int rank = Number(json, "r") is { } r && r == Math.Floor(r) && r is >= 1 and <= 1024 ? (int)r
            : throw new PeftFormatException(Field("r"), "must be a whole number between 1 and 1024");
        double alpha = Number(json, "lora_alpha") is { } a && double.IsFinite(a) && a > 0 ? a
            : throw new PeftFormatException(Field("lora_alpha"), "must be a positive number");
        var targets = Strings(json, "target_modules")
            ?? throw new PeftFormatException(Field("target_modules"), "must be a list of module names (a regex string is not supported)");
        if (targets.Count == 0) throw new PeftFormatException(Field("target_modules"), "must name at least one module");

        Require(json, "bias", "none", v => v is null || Text(json, "bias") == "none");
        foreach (var flag in new[] { "fan_in_fan_out", "use_rslora", "use_dora" })
            Require(json, flag, "false", v => v is null || v.GetValueKind() == JsonValueKind.False);
        foreach (var pattern in new[] { "rank_pattern", "alpha_pattern" })
            Require(json, pattern, "empty", v => v is null || v is JsonObject { Count: 0 });
        Require(json, "layers_to_transform", "null", v => v is null);

        return new PeftConfig(rank, alpha, targets, Strings(json, "modules_to_save") ?? [], Text(json, "base_model_name_or_path"), Text(json, "task_type"));
    }

    static string Field(string key) => key.Length == 0 ? $"adapter.{FileName}" : $"adapter.{FileName}.{key}";

    static void Require(JsonObject json, string key, string expected, Func<JsonNode?, bool> ok)
    {
        if (!ok(json[key])) throw new PeftFormatException(Field(key), $"must be {expected} (LoKO's LoRA has no such variant)");
    }

    static string? Text(JsonObject json, string key) =>
        json[key] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    static double? Number(JsonObject json, string key) =>
        json[key] is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? v.GetValue<double>() : null;

    static List<string>? Strings(JsonObject json, string key) =>
        json[key] is JsonArray items && items.All(i => i is JsonValue v && v.GetValueKind() == JsonValueKind.String)
            ? [.. items.Select(i => i!.GetValue<string>())]
            : null;
}
