using System.Text.Json.Nodes;

namespace LoKO.Server.Tests.Fuzzing;

/// <summary>
/// One REST request as the fuzzer builds it. <paramref name="MalformedHttp"/>: not even valid HTTP (a NUL in the path,
/// a header that is not ASCII, a request line past Kestrel's limit), which Kestrel refuses with a bare 400 or 414
/// before the application sees it.
/// </summary>
public sealed record RestCase(RestRoute Route, HttpMethod Method, string PathAndQuery, string? Authorization, FuzzBody Body,
                              IReadOnlyList<string> Notes, FuzzOperation Operation, bool MalformedHttp)
{
    public string Describe() =>
        $"{Method} {(PathAndQuery.Length > 200 ? PathAndQuery[..200] + "…" : PathAndQuery)} (route {Route.Key}), " +
        $"Authorization {Redact(Authorization)}, {Body.Describe()}{(Notes.Count > 0 ? ", " + string.Join("; ", Notes) : "")}";

    static string Redact(string? authorization) => authorization is null ? "none"
        : authorization.Length > 60 ? $"\"{authorization[..20]}…\" ({authorization.Length} chars)" : $"\"{authorization}\"";
}

/// <summary>
/// Builds one request for a route: which tenant its path names (sometimes an unknown id or an odd path segment), which
/// key it sends (sometimes none, another tenant's, the admin's, a malformed one), and its body, valid or broken.
/// </summary>
public sealed class RestDraft(RestRoute route, Random rng, FuzzTargets targets, bool fuzzed)
{
    static readonly HttpMethod[] OtherMethods = [HttpMethod.Put, HttpMethod.Patch, HttpMethod.Options, HttpMethod.Head];

    readonly List<string> _notes = [];
    string _segment = "";
    string? _authorization;
    bool _malformedHttp;

    public RestRoute Route => route;
    public Random Rng => rng;
    public FuzzTargets Targets => targets;
    public bool Fuzzed => fuzzed;
    /// <summary>The tenant the path names, when it names one of the fuzzed tenants.</summary>
    public FuzzTenant? Tenant { get; private set; }
    public string TenantId { get; private set; } = "";

    /// <summary>Aims at a tenant (one of the fuzzed ones, or an unknown id) with its own key, or the admin's for an unknown one.</summary>
    public RestDraft ForTenant(FuzzTenant? preferred = null)
    {
        Tenant = preferred ?? rng.Next(20) switch
        {
            < 11 => targets.Main,
            < 16 => targets.Other,
            < 18 => targets.Doomed,
            _ => null,
        };
        TenantId = Tenant?.Id ?? "fuzz-unknown-" + rng.Next(1000);
        _segment = Uri.EscapeDataString(TenantId);
        if (fuzzed && rng.Next(4) == 0)
        {
            _segment = OddSegment(TenantId);
            _notes.Add($"tenant segment \"{(_segment.Length > 60 ? _segment[..60] + "…" : _segment)}\"");
        }
        _authorization = "Bearer " + (Tenant?.Key ?? targets.AdminKey);
        if (fuzzed && rng.Next(3) == 0) _authorization = OddAuthorization.Draw(rng, targets, Tenant, nonAscii: true, _notes);
        return this;
    }

    public RestDraft AsAdmin()
    {
        _authorization = "Bearer " + targets.AdminKey;
        if (fuzzed && rng.Next(3) == 0) _authorization = OddAuthorization.Draw(rng, targets, Tenant, nonAscii: true, _notes);
        return this;
    }

    public RestDraft Anonymous()
    {
        _authorization = fuzzed && rng.Next(3) == 0 ? OddAuthorization.Draw(rng, targets, Tenant, nonAscii: true, _notes) : null;
        return this;
    }

    public RestCase Build(JsonNode? validBody, string query = "", FuzzOperation operation = FuzzOperation.Other, HttpMethod? method = null)
    {
        method ??= route.Method == "*" ? HttpMethod.Get : new HttpMethod(route.Method);
        if (fuzzed && rng.Next(20) == 0)
        {
            method = OtherMethods[rng.Next(OtherMethods.Length)];
            _notes.Add($"method {method}");
        }
        var path = route.Pattern.Replace("{tenantId}", _segment, StringComparison.Ordinal) + query;
        // Kestrel's request line holds at most 8 KiB.
        _malformedHttp |= _segment.Contains("%00", StringComparison.Ordinal) || _authorization?.Any(c => c > 0x7E) == true || path.Length > 8000;
        return new RestCase(route, method, path, _authorization, JsonMutator.Body(validBody, rng, fuzzed), _notes, operation, _malformedHttp);
    }

    string OddSegment(string id) => rng.Next(12) switch
    {
        0 => "",
        1 => string.Concat(id.Select(c => "%" + ((int)c).ToString("X2"))),
        2 => "%2E%2E",
        3 => "..",
        4 => "%00",
        5 => "%2F" + id,
        6 => id + "%20",
        7 => "%ED%A0%80",
        8 => "%FF%FE" + id,
        9 => new string('a', 5000),
        10 => Escape(NastyValues.String(rng)),
        _ => id.ToUpperInvariant(),
    };

    static string Escape(string s)
    {
        try { return Uri.EscapeDataString(s); }
        catch (UriFormatException) { return "%ED%B0%80"; } // a lone surrogate has no UTF-8 form: send its CESU bytes instead
    }
}
