namespace LoKO.Bench.Chaos;

/// <summary>
/// One tenant after the run with kills, against the uninterrupted run: the server's counters in both, what its client
/// sent again and got back DUPLICATE, the largest |θ difference|, and every promise found broken (<see cref="Problems"/>).
/// </summary>
public sealed record TenantCheck(string Tenant, string Optimizer, int Examples, int RolledBack,
                                 long Accepted, long Applied, long Rejected, long LastAppliedSequence, double OnlineAccuracy,
                                 long ReferenceApplied, long ReferenceRejected, double ReferenceOnlineAccuracy,
                                 int Resent, int Duplicates, int Interruptions, int QueueRetries, int ThetaLength, double ThetaMaxAbsDiff,
                                 IReadOnlyList<long> RollbackVersions, IReadOnlyList<long> ReferenceRollbackVersions, IReadOnlyList<string> Problems)
{
    public bool Passed => Problems.Count == 0;
}
