namespace LoKO.Bench.Serving;

/// <summary>
/// One reading of the server's memory and work: its resident set size (from /proc), what .NET's GC holds (the
/// <c>System.Runtime</c> meter at <c>/metrics</c>: memory committed at the last collection, and the heap's size then),
/// the TorchSharp tensors alive, the resident tenants and their estimated memory, and the step histogram's running totals.
/// Null where the server did not report it.
/// </summary>
public sealed record ServerSample(
    double Seconds,
    long RssBytes,
    long? ManagedCommittedBytes,
    long? ManagedHeapBytes,
    long? TorchTensors,
    long? ResidentTenants,
    long? ResidentEstimateBytes,
    double StepCount,
    double StepSeconds)
{
    /// <summary>RSS minus the GC's committed memory: LibTorch's tensors and everything else outside the managed heap.</summary>
    public long? NativeBytes => ManagedCommittedBytes is { } managed ? RssBytes - managed : null;

    public static ServerSample Read(double seconds, long rss, PrometheusText? metrics)
    {
        long? L(string name) => metrics?.Sum(name) is { } v ? (long)v : null;
        return new ServerSample(seconds, rss,
            L("dotnet_gc_last_collection_memory_committed_size_bytes"),
            L("dotnet_gc_last_collection_heap_size_bytes"),
            L("loko_torch_tensors"),
            L("loko_tenants_resident"),
            L("loko_tenants_resident_memory_bytes"),
            metrics?.Sum("loko_step_duration_seconds_count") ?? 0,
            metrics?.Sum("loko_step_duration_seconds_sum") ?? 0);
    }
}
