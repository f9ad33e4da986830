using System.Text.Json;
using System.Text.Json.Serialization;
using LoKO.Contracts.Validation;

namespace LoKO.Server.Api;

/// <summary>
/// Strict JSON request bodies: unknown fields, malformed JSON and wrong types are 400s naming the field
/// (the framework's own binding answers a bare 400 without saying which field).
/// </summary>
public static class JsonBody
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        NumberHandling = JsonNumberHandling.Strict,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static async Task<T> ReadAsync<T>(HttpRequest request, CancellationToken ct)
    {
        var element = await ReadElementAsync(request, ct);
        return Convert<T>(element, "");
    }

    /// <summary>The body as a JSON element (malformed JSON is a 400; a body over the size limit a 413).</summary>
    public static async Task<JsonElement> ReadElementAsync(HttpRequest request, CancellationToken ct)
    {
        if (request.ContentType is { } type && !type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) && !type.Contains("+json", StringComparison.OrdinalIgnoreCase))
            throw new FieldValidationException("body", $"must be JSON (Content-Type application/json), not {type}");
        try
        {
            using var document = await JsonDocument.ParseAsync(request.Body, default, ct);
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new FieldValidationException("body", $"is not valid JSON: {e.Message}");
        }
    }

    /// <summary>Maps an element onto <typeparamref name="T"/>; errors name the offending field, prefixed with <paramref name="prefix"/>.</summary>
    public static T Convert<T>(JsonElement element, string prefix)
    {
        try
        {
            return element.Deserialize<T>(Options) ?? throw new FieldValidationException(prefix.Length > 0 ? prefix.TrimEnd('.') : "body", "must be a JSON object, not null");
        }
        catch (JsonException e)
        {
            var (field, message) = Describe(e);
            throw new FieldValidationException(prefix + field, message);
        }
    }

    static (string Field, string Message) Describe(JsonException e)
    {
        // Unknown fields: "The JSON property 'foo' could not be mapped to any .NET member contained in type …".
        const string marker = "The JSON property '";
        var text = e.Message;
        if (text.StartsWith(marker, StringComparison.Ordinal))
        {
            int end = text.IndexOf('\'', marker.Length);
            if (end > marker.Length)
            {
                var name = text[marker.Length..end];
                // The path may already end at the unknown property ("$.lora.foo") or stop at its parent.
                var path = FieldOf(e.Path);
                var unknown = path == name || path.EndsWith("." + name, StringComparison.Ordinal) ? path
                            : path.Length > 0 ? path + "." + name : name;
                return (unknown, "is not a known field");
            }
        }
        var field = FieldOf(e.Path);
        return (field.Length > 0 ? field : "body", "has the wrong type or format");
    }

    /// <summary>"$.lora.rank" → "lora.rank"; "$[2].label" → "[2].label".</summary>
    static string FieldOf(string? path)
    {
        if (string.IsNullOrEmpty(path) || path == "$") return "";
        var p = path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');
        return p;
    }
}
