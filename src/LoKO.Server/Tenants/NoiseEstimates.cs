using System.Text.Json;
using LoKO.Contracts.Rest;
using LoKO.Engine.Filter;
using LoKO.Engine.Optimizers;
using LoKO.Server.Storage;
using TorchSharp;
using static TorchSharp.torch;

namespace LoKO.Server.Tenants;

/// <summary>The LoKO filter's estimates at one checkpoint: R's trace and diagonal, and the mean of p.</summary>
public sealed record NoiseEstimate(double Trace, double[] Diagonal, double? MeanP);

/// <summary>The noise history: what a checkpoint stores of the filter's estimates, and how the APIs answer it.</summary>
public static class NoiseEstimates
{
    /// <summary>
    /// Compute thread: the estimates of a LoKO filter (null for the gradient baselines, or before R exists). The mean of
    /// p is taken over the entries p covers — positive there (at least p_min), zero only where a shared head's rows
    /// live in Σ instead — the filter's own mean-covariance diagnostic (loko_filter_mean_covariance).
    /// </summary>
    public static NoiseEstimate? Of(IOnlineOptimizer optimizer)
    {
        if (optimizer is not LokoFilter { State: { R: { } r } state }) return null;
        using var scope = NewDisposeScope();
        var diagonal = r.diagonal().to(ScalarType.Float64).cpu().data<double>().ToArray();
        using var zero = 0.ToScalar();
        double? meanP = state.P is { } p
            ? p.to(ScalarType.Float64).sum().item<double>() / Math.Max(p.gt(zero).sum().item<long>(), 1)
            : null;
        return new NoiseEstimate(diagonal.Sum(), diagonal, meanP);
    }

    public static NoiseRecord Record(string tenantId, long version, NoiseEstimate estimate, DateTime createdUtc) => new()
    {
        TenantId = tenantId, Version = version, Trace = estimate.Trace, DiagonalJson = JsonSerializer.Serialize(estimate.Diagonal),
        MeanP = estimate.MeanP, CreatedUtc = createdUtc,
    };

    public static NoiseEstimateResponse Response(NoiseRecord n) => new(
        n.Version, new DateTimeOffset(DateTime.SpecifyKind(n.CreatedUtc, DateTimeKind.Utc)), n.Trace,
        JsonSerializer.Deserialize<double[]>(n.DiagonalJson) ?? [], n.MeanP);
}
