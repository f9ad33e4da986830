using System.Diagnostics.Metrics;

namespace LoKO.Server.Telemetry;

/// <summary>
/// Instruments of cross-tenant batching (LoKO:BatchTenants) on the "LoKO" meter, without a tenant label: a batch
/// holds several tenants. The counters are observed, so that they read 0 while batching is off rather than being absent.
/// </summary>
public sealed class BatchMetrics
{
    static readonly int[] TenantBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

    readonly Histogram<int> _tenants;
    long _passes, _sharedSteps;

    public BatchMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(LoKOMetrics.MeterName);
        meter.CreateObservableCounter("loko.batch.passes", () => Interlocked.Read(ref _passes), "{batch}",
            "Batches of learning steps run (LoKO:BatchTenants); stays 0 while batching is off.");
        meter.CreateObservableCounter("loko.batch.shared_steps", () => Interlocked.Read(ref _sharedSteps), "{step}",
            "Steps of those batches that shared one forward and reverse pass with other tenants' steps (the others stepped alone inside their batch).");
        _tenants = meter.CreateHistogram("loko.batch.tenants", "{tenant}",
            "Tenants' steps in one batch: its sum over its count is the mean batch size.",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = TenantBuckets });
    }

    /// <summary>Batches run so far, and the steps of them that ran in a shared pass.</summary>
    public (long Batches, long SharedSteps) Counts => (Interlocked.Read(ref _passes), Interlocked.Read(ref _sharedSteps));

    /// <summary>One batch of <paramref name="tenants"/> steps ran, <paramref name="shared"/> of them in a shared pass.</summary>
    public void Ran(int tenants, int shared)
    {
        _tenants.Record(tenants);
        Interlocked.Add(ref _sharedSteps, shared);
        Interlocked.Increment(ref _passes);
    }
}
