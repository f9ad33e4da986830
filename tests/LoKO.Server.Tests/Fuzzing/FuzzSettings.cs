using System.Globalization;

namespace LoKO.Server.Tests.Fuzzing;

/// <summary>
/// The size and seed of a fuzz run: fixed in CI, set by hand with LOKO_FUZZ_SEED and LOKO_FUZZ_REQUESTS (e.g.
/// LOKO_FUZZ_REQUESTS=20000). Each worker draws its requests from its own generator seeded from the run's seed.
/// </summary>
public sealed record FuzzSettings(int Seed, int Requests, int Workers)
{
    public const int DefaultSeed = 20261201;
    public const int DefaultRequests = 3000;
    public const int DefaultWorkers = 4;

    public static FuzzSettings FromEnvironment() =>
        new(Read("LOKO_FUZZ_SEED", DefaultSeed), Read("LOKO_FUZZ_REQUESTS", DefaultRequests), DefaultWorkers);

    static int Read(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : fallback;

    /// <summary>
    /// Whether the next request is broken (most are) or valid. Valid ones mostly cost the tenant's compute loop a step
    /// or a prediction, the slow part of a run, so they are few: enough to learn and predict under fire.
    /// </summary>
    public static bool Fuzzed(Random rng) => rng.Next(4) > 0;

    /// <summary>The generator of worker <paramref name="worker"/>: the same seed draws the same requests.</summary>
    public Random ForWorker(int worker) => new(unchecked(Seed * 31 + worker));
}
