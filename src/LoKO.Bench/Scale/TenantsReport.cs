namespace LoKO.Bench.Scale;

/// <summary>
/// What a `tenants` run measured, memory in MiB. The baseline is the most RSS the process held while the base model
/// loaded and a warm-up tenant learned and predicted the longest texts and one text of each length (the executor's
/// per-shape cache is the whole process's). The tenants' memory is the median RSS over the second half of the creation
/// (as many tenants resident as the budget allows, evictions going on) above that baseline: the run stays within the
/// budget when it and the server's own estimate (<c>loko_tenants_resident_memory_bytes</c>, what it evicts by, at its
/// peak) do not pass <see cref="BudgetMB"/>. The peak RSS is reported beside it: between two collections the GC's
/// committed memory grows with the garbage of the work, by the GC's own policy (server GC), not the tenants'.
/// </summary>
public sealed record TenantsReport(
    int Count,
    int Created,
    int Examples,
    double BudgetMB,
    double BaselineRssMB,
    double PeakRssMB,
    double PeakRssOverBaselineMB,
    double SteadyRssMB,
    double TenantMemoryMB,
    double? PeakEstimateMB,
    long? PeakResidentTenants,
    double? PeakManagedMB,
    long? PeakTorchTensors,
    double FinalRssMB,
    double CreateSeconds,
    double TenantsPerSecond,
    double? CheckpointMeanKB,
    ColdLoads Cold,
    int Failed,
    IReadOnlyList<string> FailureMessages,
    double? MeanStepMs)
{
    public bool WithinBudget => TenantMemoryMB <= BudgetMB && (PeakEstimateMB ?? 0) <= BudgetMB;
    public bool AllCreated => Created == Count;
    public bool Passed => WithinBudget && AllCreated && Failed == 0 && Cold.StateMismatches == 0;
}
