namespace LoKO.Server.Tenants;

/// <summary>
/// What a tenant's steps have done so far. Published as one immutable value after each step, so a reader never sees
/// a step counted in one field and not yet in another (applied + rejected is always the last applied sequence).
/// </summary>
public sealed record StepCounters(long LastApplied, long Applied, long Rejected, long Correct)
{
    public static readonly StepCounters None = new(0, 0, 0, 0);

    /// <summary>The counters after the step at <paramref name="sequence"/>; <paramref name="correct"/> counts only an applied step.</summary>
    public StepCounters After(long sequence, bool applied, bool correct) => applied
        ? new(sequence, Applied + 1, Rejected, Correct + (correct ? 1 : 0))
        : new(sequence, Applied, Rejected + 1, Correct);
}
