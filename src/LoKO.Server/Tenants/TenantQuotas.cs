using System.Globalization;
using System.Threading.RateLimiting;
using LoKO.Contracts.Rest;
using LoKO.Contracts.Validation;
using LoKO.Server.Hosting;
using Orleans;

namespace LoKO.Server.Tenants;

/// <summary>
/// The quotas in force for one tenant: its own (stored at creation) where it has them, else the server's
/// defaults (<see cref="QuotaOptions"/>); 0 = unlimited. The Own* flags say which is which, for the messages.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record QuotaLimits(double ExamplesPerSecond, double PredictionsPerSecond, long MaxLogEntries,
                                 bool OwnExamples, bool OwnPredictions, bool OwnLogEntries)
{
    public const string ExamplesField = "quotas.examplesPerSecond";
    public const string PredictionsField = "quotas.predictionsPerSecond";
    public const string LogEntriesField = "quotas.maxLogEntries";

    public static QuotaLimits Of(TenantQuotas? own, QuotaOptions defaults) => new(
        own?.ExamplesPerSecond ?? defaults.ExamplesPerSecond,
        own?.PredictionsPerSecond ?? defaults.PredictionsPerSecond,
        own?.MaxLogEntries ?? defaults.MaxLogEntries,
        own?.ExamplesPerSecond is not null, own?.PredictionsPerSecond is not null, own?.MaxLogEntries is not null);

    /// <summary>As a description shows them: every limit in force.</summary>
    public TenantQuotas Describe() => new()
    {
        ExamplesPerSecond = ExamplesPerSecond, PredictionsPerSecond = PredictionsPerSecond, MaxLogEntries = MaxLogEntries,
    };

    internal static string Source(bool own, string setting) => own ? "the tenant's own" : $"the server's default, LoKO:Quotas:{setting}";

    /// <summary>
    /// The log cap: <paramref name="entries"/> kept plus <paramref name="adding"/> new ones may not pass
    /// <see cref="MaxLogEntries"/>. Entries leave the log when a checkpoint's compaction covers them.
    /// </summary>
    public void CheckLogRoom(string tenantId, long entries, int adding, TimeSpan retryAfter)
    {
        if (MaxLogEntries <= 0 || adding <= 0 || entries + adding <= MaxLogEntries) return;
        throw new QuotaExceededException(LogEntriesField,
            $"tenant '{tenantId}' keeps {Number(entries)} log entries and {LogEntriesField} = {Number(MaxLogEntries)} " +
            $"({Source(OwnLogEntries, "MaxLogEntries")}) leaves room for {Number(Math.Max(0, MaxLogEntries - entries))}, not {Number(adding)}; " +
            "entries leave the log once checkpoints cover them (log compaction, LoKO:RetainCheckpoints)", retryAfter);
    }

    static string Number(long n) => n.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// A tenant's quota was exceeded: 429 with Retry-After (REST), RESOURCE_EXHAUSTED with the trailers "quota" and
/// "retry-after" (gRPC). <see cref="Quota"/> names it as the create request does (e.g. "quotas.examplesPerSecond").
/// </summary>
[GenerateSerializer]
public sealed class QuotaExceededException(string quota, string message, TimeSpan retryAfter) : Exception(message)
{
    [Id(0)] public string Quota { get; } = quota;
    [Id(1)] public TimeSpan RetryAfter { get; } = retryAfter;
}

/// <summary>
/// The per-tenant rate limits of both APIs: token buckets (System.Threading.RateLimiting, the limiters behind
/// ASP.NET Core's rate-limiting middleware) partitioned by tenant, one for examples and one for predictions.
/// A bucket holds one second's worth (at least one) and refills continuously. Examples are counted one by one —
/// a REST batch takes as many tokens as it holds and a gRPC Learn stream one per example — which is why the
/// services call the limiter rather than the middleware, which counts requests.
/// </summary>
public sealed class TenantRateLimits : IDisposable
{
    readonly record struct Bucket(string TenantId, string Quota, double PerSecond);

    readonly PartitionedRateLimiter<Bucket> _limiter = PartitionedRateLimiter.Create<Bucket, Bucket>(
        bucket => RateLimitPartition.GetTokenBucketLimiter(bucket, Options));

    /// <summary>Tokens a full bucket holds for a limit of <paramref name="perSecond"/>: one second's worth, at least one.</summary>
    public static int Capacity(double perSecond) => Math.Max(TokensPerPeriod(perSecond), (int)Math.Ceiling(perSecond));

    // Refilled in small steps (about 20 a second, one token at least) so that the rate holds for any limit.
    static int TokensPerPeriod(double perSecond) => Math.Max(1, (int)Math.Ceiling(perSecond / 20));

    static TokenBucketRateLimiterOptions Options(Bucket bucket)
    {
        int perPeriod = TokensPerPeriod(bucket.PerSecond);
        return new TokenBucketRateLimiterOptions
        {
            TokenLimit = Capacity(bucket.PerSecond),
            TokensPerPeriod = perPeriod,
            ReplenishmentPeriod = TimeSpan.FromSeconds(perPeriod / bucket.PerSecond),
            QueueLimit = 0,
            AutoReplenishment = true,
        };
    }

    /// <summary><paramref name="count"/> examples now, or <see cref="QuotaExceededException"/>; a REST batch larger than a full bucket is a 400.</summary>
    public void TakeExamples(string tenantId, QuotaLimits limits, int count)
    {
        double rate = limits.ExamplesPerSecond;
        if (rate <= 0 || count <= 0) return;
        if (count > Capacity(rate))
            throw new FieldValidationException("body",
                $"a batch of {count} examples is more than {QuotaLimits.ExamplesField} = {Rate(rate)} " +
                $"({QuotaLimits.Source(limits.OwnExamples, "ExamplesPerSecond")}) allows at once ({Capacity(rate)}); send smaller batches");
        var refused = Take(tenantId, QuotaLimits.ExamplesField, rate, count);
        if (refused is { } retryAfter) throw Exceeded(tenantId, QuotaLimits.ExamplesField, rate, limits.OwnExamples, "ExamplesPerSecond", "examples", retryAfter);
    }

    /// <summary>One prediction now, or <see cref="QuotaExceededException"/>.</summary>
    public void TakePrediction(string tenantId, QuotaLimits limits)
    {
        double rate = limits.PredictionsPerSecond;
        if (rate <= 0) return;
        var refused = Take(tenantId, QuotaLimits.PredictionsField, rate, 1);
        if (refused is { } retryAfter) throw Exceeded(tenantId, QuotaLimits.PredictionsField, rate, limits.OwnPredictions, "PredictionsPerSecond", "predictions", retryAfter);
    }

    /// <summary>
    /// A stream's examples: waits for tokens (a bucket at a time) up to <paramref name="wait"/>, as a stream waits for
    /// room in a full queue, then gives up with <see cref="QuotaExceededException"/>.
    /// </summary>
    public async Task TakeExamplesWaitingAsync(string tenantId, QuotaLimits limits, int count, TimeSpan wait, CancellationToken ct)
    {
        double rate = limits.ExamplesPerSecond;
        if (rate <= 0) return;
        var deadline = DateTime.UtcNow + wait;
        while (count > 0)
        {
            int chunk = Math.Min(count, Capacity(rate));
            var refused = Take(tenantId, QuotaLimits.ExamplesField, rate, chunk);
            if (refused is not { } retryAfter)
            {
                count -= chunk;
                continue;
            }
            var remaining = deadline - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero) throw Exceeded(tenantId, QuotaLimits.ExamplesField, rate, limits.OwnExamples, "ExamplesPerSecond", "examples", retryAfter);
            await Task.Delay(retryAfter < remaining ? retryAfter : remaining, ct);
        }
    }

    /// <summary>Null when granted; else how long until the bucket holds <paramref name="count"/> tokens.</summary>
    TimeSpan? Take(string tenantId, string quota, double rate, int count)
    {
        using var lease = _limiter.AttemptAcquire(new Bucket(tenantId, quota, rate), count);
        if (lease.IsAcquired) return null;
        return lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) && retryAfter > TimeSpan.Zero
            ? retryAfter
            : TimeSpan.FromSeconds(count / rate);
    }

    static QuotaExceededException Exceeded(string tenantId, string quota, double rate, bool own, string setting, string what, TimeSpan retryAfter) =>
        new(quota, $"tenant '{tenantId}' exceeded {quota} = {Rate(rate)} ({QuotaLimits.Source(own, setting)}): too many {what} for now; " +
                   $"retry in {RetryAfterSeconds(retryAfter).ToString(CultureInfo.InvariantCulture)} s", retryAfter);

    /// <summary>What Retry-After and the retry-after trailer say: whole seconds, at least one.</summary>
    public static long RetryAfterSeconds(TimeSpan retryAfter) => Math.Max(1, (long)Math.Ceiling(retryAfter.TotalSeconds));

    static string Rate(double rate) => rate.ToString("0.###", CultureInfo.InvariantCulture) + "/s";

    public void Dispose() => _limiter.Dispose();
}
