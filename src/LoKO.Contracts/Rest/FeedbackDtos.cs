namespace LoKO.Contracts.Rest;

/// <summary>POST /v1/tenants/{id}/feedback: the label of an earlier prediction, learned as an example.</summary>
public sealed record FeedbackRequest
{
    /// <summary>The predictionId a predict answered.</summary>
    public string? PredictionId { get; init; }
    /// <summary>The true label: one of the tenant's labels.</summary>
    public string? Label { get; init; }
}

/// <param name="Sequence">The example's sequence in the tenant's log (the original one for a repeated feedback).</param>
/// <param name="Duplicate">This prediction had feedback before: nothing new was logged.</param>
/// <param name="ExampleId">The idempotency key the example was logged under ("prediction:" + predictionId).</param>
public sealed record FeedbackAccepted(long Sequence, bool Duplicate, string ExampleId);

/// <summary>One row of a tenant's noise history: the LoKO filter's estimates, stored with each checkpoint.</summary>
/// <param name="Version">The checkpoint the estimate was stored with (the row outlives a compacted checkpoint).</param>
/// <param name="Trace">Trace of the observation noise R.</param>
/// <param name="Diagonal">Diagonal of R, one value per output.</param>
/// <param name="MeanP">
/// Mean of the diagonal covariance p over the parameters it covers (loko_filter_mean_covariance's definition); null
/// for rows stored before it was recorded.
/// </param>
public sealed record NoiseEstimateResponse(long Version, DateTimeOffset CreatedUtc, double Trace, IReadOnlyList<double> Diagonal, double? MeanP);
