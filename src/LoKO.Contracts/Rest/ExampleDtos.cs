using System.Text.Json.Serialization;

namespace LoKO.Contracts.Rest;

/// <summary>Raw pixels: W·H grayscale values or W·H·3 interleaved RGB values, each in [0, 255].</summary>
public sealed record PixelsDto
{
    public int? Width { get; init; }
    public int? Height { get; init; }
    public IReadOnlyList<double>? Values { get; init; }
}

/// <summary>One input: exactly one of text, imageBase64 (PNG/JPEG file) or pixels.</summary>
public record InputDto
{
    public string? Text { get; init; }
    public string? ImageBase64 { get; init; }
    public PixelsDto? Pixels { get; init; }
}

/// <summary>POST /v1/tenants/{id}/examples (one object, or an array of them).</summary>
public sealed record ExampleRequest : InputDto
{
    public string? Label { get; init; }
    /// <summary>Optional idempotency key, unique per tenant: a repeat returns the original sequence.</summary>
    public string? ExampleId { get; init; }
}

public sealed record PredictRequest : InputDto;

public sealed record ExampleAccepted(long Sequence);

public sealed record ExamplesAccepted(IReadOnlyList<long> Sequences);

/// <param name="PredictionId">
/// Names this prediction for a later <see cref="FeedbackRequest"/> (the server keeps its input for a while); absent
/// when the server keeps no predictions (LoKO:MaxPendingPredictions = 0).
/// </param>
public sealed record PredictResponse(string Label, IReadOnlyDictionary<string, double> Probabilities, long AdapterVersion,
                                     [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? PredictionId = null);
