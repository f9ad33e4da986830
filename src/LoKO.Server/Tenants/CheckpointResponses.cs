using LoKO.Contracts.Rest;
using LoKO.Server.Storage;

namespace LoKO.Server.Tenants;

/// <summary>A stored checkpoint row as the APIs answer it.</summary>
public static class CheckpointResponses
{
    public static CheckpointResponse From(CheckpointRecord c, double? noiseTrace) =>
        new(c.Version, c.LastAppliedSequence, c.ExamplesApplied, new DateTimeOffset(DateTime.SpecifyKind(c.CreatedUtc, DateTimeKind.Utc)), noiseTrace);
}
