using Orleans;

namespace LoKO.Server.Tenants;

/// <summary>A tenant actor's counters at one moment.</summary>
public sealed record TenantStatus(
    long ExamplesAccepted,
    long ExamplesApplied,
    long ExamplesRejected,
    long Correct,
    long LastAppliedSequence,
    long CheckpointVersion,
    long QueueDepth)
{
    public double? OnlineAccuracy => ExamplesApplied > 0 ? (double)Correct / ExamplesApplied : null;
}

/// <param name="PredictionId">Names the kept prediction for feedback; null when the server keeps none.</param>
[GenerateSerializer, Immutable]
public sealed record PredictionResult(string Label, IReadOnlyDictionary<string, double> Probabilities, long AdapterVersion, string? PredictionId = null);
