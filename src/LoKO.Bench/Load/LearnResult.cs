namespace LoKO.Bench.Load;

/// <summary>
/// What one learning run measured. <see cref="AppliedPerSecond"/> (every example learned, over the wall time from
/// the first send to the last applied example) is the sustained learning rate; <see cref="AcksPerSecond"/> is how
/// fast examples were durably logged and acknowledged, which runs ahead of learning while the tenants' queues fill.
/// Ack latency runs from the client's write to the ack, so a stream that writes ahead also waits behind its own earlier
/// examples. <see cref="BatchMeanTenants"/> is the mean number of tenants' steps per batch the server ran during the run
/// (its <c>loko_batch_tenants</c> histogram); null when batching is off or the server does not report it.
/// </summary>
sealed record LearnResult(
    int Tenants,
    int ExamplesPerTenant,
    double WallSeconds,
    double AppliedPerSecond,
    double AcksPerSecond,
    double AckP50Ms,
    double AckP99Ms,
    long Rejected,
    double? ServerStepMs,
    double? BatchMeanTenants);
