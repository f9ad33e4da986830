using System.Collections.Concurrent;
using LoKO.Contracts.Validation;

namespace LoKO.Server.Tests.Fuzzing;

public sealed record FuzzTenant(string Id, string Key);

/// <summary>
/// What the fuzzer aims at: three tenants and what it has learned about them while running (prediction ids to give
/// feedback on, checkpoint versions to roll back to, example ids to repeat). <see cref="Main"/> is never deleted or
/// rolled back, so every example it accepted must be learned; <see cref="Other"/> takes rollbacks (and is the "other
/// tenant" whose key must not reach <see cref="Main"/>); <see cref="Doomed"/> may be deleted mid-run.
/// </summary>
public sealed class FuzzTargets(FuzzTenant main, FuzzTenant other, FuzzTenant doomed, string adminKey, IReadOnlyList<string> labels, byte[] peftZip)
{
    readonly ConcurrentDictionary<string, ConcurrentQueue<string>> _predictions = new();
    readonly ConcurrentQueue<long> _checkpoints = new();
    volatile bool _doomedDeleted;

    public FuzzTenant Main { get; } = main;
    public FuzzTenant Other { get; } = other;
    public FuzzTenant Doomed { get; } = doomed;
    public string AdminKey { get; } = adminKey;
    public IReadOnlyList<string> Labels { get; } = labels;
    /// <summary>A real PEFT adapter zip of <see cref="Main"/> (for creation requests that import one).</summary>
    public byte[] PeftZip { get; } = peftZip;
    public IEnumerable<FuzzTenant> Tenants => [Main, Other, Doomed];
    public bool DoomedDeleted => _doomedDeleted;

    public FuzzTenant? Find(string? tenantId) => Tenants.FirstOrDefault(t => t.Id == tenantId);

    public void Deleted(string tenantId)
    {
        if (tenantId == Doomed.Id) _doomedDeleted = true;
    }

    public void Predicted(string tenantId, string predictionId)
    {
        var queue = _predictions.GetOrAdd(tenantId, _ => new());
        queue.Enqueue(predictionId);
        while (queue.Count > 200) queue.TryDequeue(out _);
    }

    /// <summary>A prediction id the server answered for the tenant (a repeat gets the original sequence), or a made-up one.</summary>
    public string PredictionId(Random rng, string tenantId)
    {
        if (rng.Next(5) > 0 && _predictions.TryGetValue(tenantId, out var queue) && queue.ToArray() is { Length: > 0 } known)
            return known[rng.Next(known.Length)];
        return rng.Next(3) switch
        {
            0 => Guid.NewGuid().ToString("N"),
            1 => "",
            _ => NastyValues.String(rng),
        };
    }

    public void CheckpointWritten(string tenantId, long version)
    {
        if (tenantId == Other.Id) _checkpoints.Enqueue(version);
    }

    /// <summary>A checkpoint version of <see cref="Other"/> it wrote (rollback targets), or a version that does not exist.</summary>
    public long Version(Random rng)
    {
        var known = _checkpoints.ToArray();
        if (known.Length > 0 && rng.Next(2) == 0) return known[rng.Next(known.Length)];
        return NastyValues.Long(rng);
    }

    /// <summary>An example id from a small pool (so repeats happen, across both APIs), a fresh one, or none.</summary>
    public static string? ExampleId(Random rng) => rng.Next(4) switch
    {
        0 => null,
        1 => Guid.NewGuid().ToString("N"),
        _ => "ex-" + rng.Next(40),
    };

    public string Label(Random rng) => Labels[rng.Next(Labels.Count)];

    /// <summary>
    /// Labels to add: one or two from a small pool, so a tenant grows by a bounded number and repeats (already a label,
    /// a 400 naming <c>labels</c>) happen. Examples keep to <see cref="Labels"/>, which every tenant has.
    /// </summary>
    public static string[] NewLabels(Random rng) =>
        [.. Enumerable.Range(0, rng.Next(1, 3)).Select(_ => "added-" + rng.Next(12)).Distinct()];

    static readonly string[] Texts =
    [
        "the printer driver crashed again", "slow-cooked beef stew", "compile the kernel module", "a bowl of ramen",
        "reboot the database server", "lemon cake with icing", "日本語のテキスト", "☃ snowman soup 💥", "مرحبا بالعالم",
    ];

    /// <summary>A text a tenant learns from or predicts on: short, long (the model reads 16 tokens), or odd but valid.</summary>
    public static string Text(Random rng) => rng.Next(10) switch
    {
        0 => NastyValues.Sized(rng, rng.Next(200, new InputLimits().MaxTextLength + 1)),
        1 => "e\u0301\u200B\uFEFF mixed \u202E text",
        _ => Texts[rng.Next(Texts.Length)],
    };

    /// <summary>
    /// Whether a request may not be sent: it would delete <see cref="Main"/> or <see cref="Other"/>, roll back
    /// <see cref="Main"/>, or create a tenant (slow, and not what the fuzzer is for). Mirrors the server's key check.
    /// </summary>
    public bool Forbidden(FuzzOperation operation, string? tenantId, string? authorization) => operation switch
    {
        FuzzOperation.Delete => (tenantId == Main.Id || tenantId == Other.Id) && Reaches(authorization, tenantId),
        FuzzOperation.Rollback => tenantId == Main.Id && Reaches(authorization, tenantId),
        FuzzOperation.Create => RequestValidator.ValidateTenantId(tenantId).Count == 0 && tenantId != Main.Id && tenantId != Other.Id
                                && Reaches(authorization, null),
        _ => false,
    };

    bool Reaches(string? authorization, string? tenantId)
    {
        const string scheme = "Bearer ";
        if (authorization is null || !authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) return false;
        var key = authorization[scheme.Length..].Trim();
        return key == AdminKey || (tenantId is not null && Find(tenantId)?.Key == key);
    }
}

public enum FuzzOperation { Other, Create, Delete, Rollback }
