namespace LoKO.Engine.Filter;

/// <summary>
/// The divergence guard: over a window of steps it watches the normalised innovation eᵀS⁻¹e / m
/// and the loss; when either blows up it restores the last good (θ, p, R) with a damped gain.
/// </summary>
public sealed record GuardOptions
{
    public bool Enabled { get; init; } = true;
    /// <summary>Steps per window; also how often a healthy state is snapshotted.</summary>
    public int Window { get; init; } = 50;
    /// <summary>Divergence when the window's mean eᵀS⁻¹e / m exceeds this.</summary>
    public double MaxNormalisedInnovation { get; init; } = 25;
    /// <summary>Divergence when the window's mean loss exceeds this multiple of the best window's and, for classification, chance level (ln C).</summary>
    public double MaxLossRatio { get; init; } = 2;
    /// <summary>On each divergence p is divided and R multiplied by this, slowing the filter down.</summary>
    public double Damping { get; init; } = 10;

    public void Validate()
    {
        if (Window < 2) throw new ArgumentOutOfRangeException("guard.window", Window, "must be at least 2");
        if (!(MaxNormalisedInnovation > 0)) throw new ArgumentOutOfRangeException("guard.maxNormalisedInnovation", MaxNormalisedInnovation, "must be positive");
        if (!(MaxLossRatio > 1)) throw new ArgumentOutOfRangeException("guard.maxLossRatio", MaxLossRatio, "must exceed 1");
        if (!(Damping >= 1)) throw new ArgumentOutOfRangeException("guard.damping", Damping, "must be at least 1");
    }
}
