namespace LoKO.Engine.Filter;

/// <summary>
/// The divergence guard (<see cref="DivergenceGuard"/>): over windows of steps it watches the normalised innovation
/// eᵀS⁻¹e / m, the loss and, for classification, the prequential accuracy. On a blow-up (one bad window) or a slow
/// collapse (a span of windows well below the best span) it restores the best state with a damped gain.
/// </summary>
public sealed record GuardOptions
{
    public bool Enabled { get; init; } = true;
    /// <summary>Steps per window: the guard judges once per window.</summary>
    public int Window { get; init; } = 50;
    /// <summary>Blow-up when the window's mean eᵀS⁻¹e / m exceeds this.</summary>
    public double MaxNormalisedInnovation { get; init; } = 25;
    /// <summary>Blow-up when the window's mean loss exceeds this multiple of the best window's and, for classification, chance level (ln C).</summary>
    public double MaxLossRatio { get; init; } = 2;
    /// <summary>On each restore p (and a shared head's Σ) is divided by this, slowing the filter down; see <see cref="DivergenceGuard"/>.</summary>
    public double Damping { get; init; } = 10;

    /// <summary>Slow collapse: the recent span judged, in windows (6 × 50 = the last 300 examples).</summary>
    public int DriftWindows { get; init; } = 6;
    /// <summary>
    /// The longest span, in windows, whose mean can set the best the recent span is judged against (20 × 50 = 1,000
    /// examples): the best of many short spans is a lucky statistic, the best of long ones much less so.
    /// </summary>
    public int ReferenceWindows { get; init; } = 20;
    /// <summary>Slow collapse (classification): the recent span's accuracy is more than this below the best span's, and …</summary>
    public double MaxAccuracyDrop { get; init; } = 0.08;
    /// <summary>… more than this many standard errors of the difference of the two accuracies below it, so noise does not fire it.</summary>
    public double DriftSigmas { get; init; } = 4.5;
    /// <summary>
    /// Slow collapse (regression): the recent span's mean loss exceeds this multiple of the best span's. Below
    /// <see cref="MaxLossRatio"/>, or a window of the span would have been a blow-up first.
    /// </summary>
    public double MaxLossDrift { get; init; } = 1.5;
    /// <summary>Slow collapse: consecutive windows whose recent span is collapsed before the guard restores.</summary>
    public int DriftPatience { get; init; } = 2;

    public void Validate()
    {
        if (Window < 2) throw new ArgumentOutOfRangeException("guard.window", Window, "must be at least 2");
        if (!(MaxNormalisedInnovation > 0)) throw new ArgumentOutOfRangeException("guard.maxNormalisedInnovation", MaxNormalisedInnovation, "must be positive");
        if (!(MaxLossRatio > 1)) throw new ArgumentOutOfRangeException("guard.maxLossRatio", MaxLossRatio, "must exceed 1");
        if (!(Damping >= 1)) throw new ArgumentOutOfRangeException("guard.damping", Damping, "must be at least 1");
        if (DriftWindows < 2) throw new ArgumentOutOfRangeException("guard.driftWindows", DriftWindows, "must be at least 2");
        if (ReferenceWindows < DriftWindows || ReferenceWindows > 10_000)
            throw new ArgumentOutOfRangeException("guard.referenceWindows", ReferenceWindows, "must lie between driftWindows and 10000");
        if (!(MaxAccuracyDrop > 0 && MaxAccuracyDrop <= 1)) throw new ArgumentOutOfRangeException("guard.maxAccuracyDrop", MaxAccuracyDrop, "must lie in (0, 1]");
        if (!(DriftSigmas >= 0) || double.IsPositiveInfinity(DriftSigmas)) throw new ArgumentOutOfRangeException("guard.driftSigmas", DriftSigmas, "must be zero or a positive number");
        if (!(MaxLossDrift > 1) || double.IsPositiveInfinity(MaxLossDrift)) throw new ArgumentOutOfRangeException("guard.maxLossDrift", MaxLossDrift, "must be a number above 1");
        if (DriftPatience < 1) throw new ArgumentOutOfRangeException("guard.driftPatience", DriftPatience, "must be at least 1");
    }
}
