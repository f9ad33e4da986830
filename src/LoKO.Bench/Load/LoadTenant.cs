using Grpc.Core;

namespace LoKO.Bench.Load;

/// <summary>A tenant the benchmark created, with the bearer metadata of its own key (what a real client would use).</summary>
sealed record LoadTenant(string Id, Metadata Key);
