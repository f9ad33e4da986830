using LoKO.Contracts.V1;

namespace LoKO.Bench.Chaos;

/// <summary>One tenant at the end of one run: the server's account of it, its θ, and what its client saw on the way.</summary>
sealed record TenantOutcome(ChaosTenant Spec, Tenant Final, float[] Theta, IReadOnlyList<long> Sequences, IReadOnlyList<long> RollbackVersions,
                            int Resent, int Duplicates, int FirstSendDuplicates, int Interruptions, int QueueRetries, IReadOnlyList<string> Errors);
