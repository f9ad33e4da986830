using LoKO.Bench.Serving;

namespace LoKO.Bench.Load;

/// <summary>The server's cross-tenant batch counters at <c>/metrics</c> (<c>loko_batch_tenants</c>: batches and the steps in them).</summary>
readonly record struct BatchCounts(double Batches, double Steps)
{
    public static BatchCounts? Of(PrometheusText? metrics) =>
        metrics?.Sum("loko_batch_tenants_count") is { } batches ? new BatchCounts(batches, metrics.Sum("loko_batch_tenants_sum") ?? 0)
        : metrics?.Sum("loko_batch_passes_total") is not null ? new BatchCounts(0, 0)
        : null;

    /// <summary>Mean steps per batch between <paramref name="before"/> and <paramref name="after"/>; null when no batch ran or the server does not report them.</summary>
    public static double? MeanBetween(BatchCounts? before, BatchCounts? after) =>
        before is { } b && after is { } a && a.Batches > b.Batches ? (a.Steps - b.Steps) / (a.Batches - b.Batches) : null;
}
