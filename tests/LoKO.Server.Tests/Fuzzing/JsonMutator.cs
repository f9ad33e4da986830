using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LoKO.Server.Tests.Fuzzing;

/// <summary>A request body as sent: its bytes (null: none), its Content-Type (null: none) and what was done to it.</summary>
public sealed record FuzzBody(byte[]? Bytes, string? ContentType, IReadOnlyList<string> Mutations)
{
    public static readonly FuzzBody None = new(null, null, []);

    public string Describe() =>
        (Bytes is null ? "no body" : $"{Bytes.Length} bytes {Excerpt(Bytes)}") + $", Content-Type {ContentType ?? "none"}" +
        (Mutations.Count > 0 ? $", mutations: {string.Join("; ", Mutations)}" : "");

    static string Excerpt(byte[] bytes)
    {
        var text = Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, 300));
        return JsonSerializer.Serialize(text + (bytes.Length > 300 ? "…" : ""));
    }
}

/// <summary>
/// Breaks a valid JSON body: values replaced by wrong types, nasty strings, edge and non-finite numbers (as raw tokens
/// and as strings); fields removed, added, renamed, duplicated; strings and arrays past the server's limits; then,
/// sometimes, the bytes themselves (truncated, invalid UTF-8, UTF-16, garbage) and the Content-Type.
/// </summary>
public static class JsonMutator
{
    public const string Json = "application/json";

    static readonly string[] ContentTypes =
    [
        "text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/octet-stream",
        "application/json; charset=utf-16", "application/problem+json", "APPLICATION/JSON", "application/jsonx", ";;;", "",
        "application/json; charset=\"", "*/*", "application/grpc", "text/json",
    ];

    static readonly string[] UnknownKeys = ["colour", "", "\u0000", "__proto__", "$type", "TEXT", "Label", "text ", "ünï"];

    /// <summary>The valid body (or none), or a broken one when <paramref name="fuzzed"/>.</summary>
    public static FuzzBody Body(JsonNode? valid, Random rng, bool fuzzed)
    {
        var mutations = new List<string>();
        if (valid is null && (!fuzzed || rng.Next(3) > 0)) return FuzzBody.None;
        var raw = new Dictionary<string, string>();
        var node = valid?.DeepClone();
        if (fuzzed)
        {
            int count = rng.Next(1, 4);
            for (int i = 0; i < count; i++) node = MutateTree(node, rng, raw, mutations);
        }
        var text = node is null ? "null" : node.ToJsonString();
        foreach (var (marker, token) in raw) text = text.Replace(JsonSerializer.Serialize(marker), token, StringComparison.Ordinal);
        var bytes = Encoding.UTF8.GetBytes(text);
        if (fuzzed && rng.Next(4) == 0) bytes = MutateBytes(bytes, rng, mutations);
        string? contentType = Json;
        if (fuzzed && rng.Next(8) == 0)
        {
            contentType = rng.Next(6) == 0 ? null : ContentTypes[rng.Next(ContentTypes.Length)];
            mutations.Add($"Content-Type {contentType ?? "none"}");
        }
        return new FuzzBody(bytes, contentType, mutations);
    }

    /// <summary>A JSON string literal for any .NET string: every character outside printable ASCII as \uXXXX (lone surrogates too).</summary>
    public static string Quote(string s)
    {
        var text = new StringBuilder(s.Length + 2).Append('"');
        foreach (char c in s)
        {
            if (c == '"' || c == '\\') text.Append('\\').Append(c);
            else if (c < 0x20 || c > 0x7E) text.Append("\\u").Append(((int)c).ToString("x4"));
            else text.Append(c);
        }
        return text.Append('"').ToString();
    }

    static JsonNode? MutateTree(JsonNode? root, Random rng, Dictionary<string, string> raw, List<string> mutations)
    {
        var slots = new List<(JsonNode? Parent, string? Key, int Index, string Path)>();
        Collect(root, null, null, -1, "$", slots);
        var (parent, key, index, path) = slots[rng.Next(slots.Count)];
        var current = parent is null ? root : key is not null ? parent[key] : parent[index];

        JsonNode? replacement;
        switch (rng.Next(11))
        {
            case 0:
            case 1:
                var token = NastyValues.Token(rng);
                replacement = Raw(raw, token);
                mutations.Add($"{path} = {Short(token)}");
                break;
            case 2:
            case 3:
                var s = NastyValues.String(rng);
                replacement = Raw(raw, Quote(s));
                mutations.Add($"{path} = string of {s.Length} chars {Short(Quote(s))}");
                break;
            case 4:
                var number = NastyValues.Double(rng);
                var asString = rng.Next(2) == 0;
                var written = double.IsFinite(number) ? number.ToString("R", System.Globalization.CultureInfo.InvariantCulture)
                            : double.IsNaN(number) ? "NaN" : number > 0 ? "Infinity" : "-Infinity";
                replacement = Raw(raw, asString ? Quote(written) : written);
                mutations.Add($"{path} = {(asString ? "\"" + written + "\"" : written)}");
                break;
            case 5:
                if (parent is JsonObject o && key is not null) { o.Remove(key); mutations.Add($"{path} removed"); return root; }
                if (parent is JsonArray a && index >= 0) { a.RemoveAt(index); mutations.Add($"{path} removed"); return root; }
                mutations.Add("body = null");
                return null;
            case 6:
                if (current is JsonObject target)
                {
                    var unknown = UnknownKeys[rng.Next(UnknownKeys.Length)];
                    target[unknown] = Raw(raw, NastyValues.Token(rng));
                    mutations.Add($"{path} gets unknown field {Quote(unknown)}");
                    return root;
                }
                goto case 0;
            case 7:
                int copies = rng.Next(3) switch { 0 => 1001, 1 => 5000, _ => 40_000 };
                var element = current?.ToJsonString() ?? "null";
                if ((long)element.Length * copies > 2_000_000) element = "1"; // past every limit already; keeps the run fast
                replacement = Raw(raw, "[" + string.Join(",", Enumerable.Repeat(element, copies)) + "]");
                mutations.Add($"{path} = array of {copies} copies");
                break;
            case 8:
                int length = rng.Next(2) == 0 ? 300_000 : 20_000;
                replacement = JsonValue.Create(NastyValues.Sized(rng, length));
                mutations.Add($"{path} = string of {length} chars");
                break;
            case 9:
                replacement = rng.Next(2) == 0 ? new JsonArray(current?.DeepClone()) : new JsonObject { ["value"] = current?.DeepClone() };
                mutations.Add($"{path} wrapped in {(replacement is JsonArray ? "an array" : "an object")}");
                break;
            default:
                if (parent is JsonObject renamed && key is not null)
                {
                    var value = renamed[key];
                    renamed.Remove(key);
                    var newKey = rng.Next(2) == 0 ? key.ToUpperInvariant() : key + "_";
                    renamed[newKey] = value;
                    mutations.Add($"{path} renamed {newKey}");
                    return root;
                }
                goto case 2;
        }
        if (parent is null) return replacement;
        if (key is not null) parent[key] = replacement;
        else parent[index] = replacement;
        return root;
    }

    static void Collect(JsonNode? node, JsonNode? parent, string? key, int index, string path, List<(JsonNode?, string?, int, string)> slots)
    {
        slots.Add((parent, key, index, path));
        if (node is JsonObject o)
            foreach (var (k, v) in o.ToList()) Collect(v, o, k, -1, $"{path}.{k}", slots);
        else if (node is JsonArray a)
            for (int i = 0; i < a.Count; i++) Collect(a[i], a, null, i, $"{path}[{i}]", slots);
    }

    /// <summary>A placeholder replaced by <paramref name="token"/> in the text (tokens that are not JSON cannot be nodes).</summary>
    static JsonNode Raw(Dictionary<string, string> raw, string token)
    {
        var marker = $"@@raw{raw.Count}@@";
        raw[marker] = token;
        return JsonValue.Create(marker);
    }

    static string Short(string s) => s.Length <= 40 ? s : s[..40] + $"… ({s.Length} chars)";

    static byte[] MutateBytes(byte[] bytes, Random rng, List<string> mutations)
    {
        int at = bytes.Length == 0 ? 0 : rng.Next(bytes.Length);
        switch (rng.Next(9))
        {
            case 0:
                mutations.Add($"truncated to {at} bytes");
                return bytes[..at];
            case 1:
            case 2:
                var invalid = NastyValues.InvalidUtf8[rng.Next(NastyValues.InvalidUtf8.Length)];
                // Inside a string value when there is one: after an opening quote.
                int quote = Array.IndexOf(bytes, (byte)'"', at);
                int position = quote >= 0 ? quote + 1 : at;
                mutations.Add($"invalid UTF-8 {Convert.ToHexString(invalid)} at byte {position}");
                return [.. bytes[..position], .. invalid, .. bytes[position..]];
            case 3:
                // Characters that break the structure, never ones that would only rename an id.
                const string breakers = "{}[],:\"\\\u0001\u0000 ";
                var structural = breakers[rng.Next(breakers.Length)];
                mutations.Add($"byte 0x{(int)structural:x2} inserted at {at}");
                return [.. bytes[..at], (byte)structural, .. bytes[at..]];
            case 4:
                mutations.Add("UTF-8 byte order mark");
                return [0xEF, 0xBB, 0xBF, .. bytes];
            case 5:
                mutations.Add("encoded as UTF-16");
                return Encoding.Unicode.GetBytes(Encoding.UTF8.GetString(bytes));
            case 6:
                var garbage = new byte[rng.Next(1, 200)];
                rng.NextBytes(garbage);
                mutations.Add($"{garbage.Length} random bytes");
                return garbage;
            case 7:
                mutations.Add("empty");
                return [];
            default:
                var tail = rng.Next(3) switch { 0 => ",", 1 => "}{", _ => " trailing" };
                mutations.Add($"appended {tail}");
                return [.. bytes, .. Encoding.UTF8.GetBytes(tail)];
        }
    }
}
