namespace LoKO.Bench.Scale;

/// <summary>
/// What a `soak` run measured. Memory in MiB; native = RSS minus what the GC had committed at its last collection.
/// Slopes are least-squares fits over the second half of the samples, per minute.
/// </summary>
public sealed record SoakReport(
    double Minutes,
    int Tenants,
    int MaxResident,
    int Samples,
    long ExamplesAcknowledged,
    long Predictions,
    double? StepsApplied,
    double NativeSlopeMBPerMinute,
    double ManagedSlopeMBPerMinute,
    double RssSlopeMBPerMinute,
    double TensorSlopePerMinute,
    double NativeFirstMB,
    double NativeLastMB,
    long? TensorsFirst,
    long? TensorsLast,
    double? StepMeanMsFirstHalf,
    double? StepMeanMsSecondHalf,
    double MaxSlopeMBPerMinute,
    int Failed,
    IReadOnlyList<string> FailureMessages,
    string Csv,
    string Png)
{
    public bool SlopeWithinLimit => double.IsFinite(NativeSlopeMBPerMinute) && NativeSlopeMBPerMinute <= MaxSlopeMBPerMinute;
    public bool Passed => SlopeWithinLimit && Failed == 0;
}
