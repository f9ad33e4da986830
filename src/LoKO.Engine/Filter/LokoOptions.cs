namespace LoKO.Engine.Filter;

/// <summary>How the diagonal prior covariance p₀ is chosen (LOKO-ALGORITHM.md, "Initialising P").</summary>
public enum InitialCovariance
{
    /// <summary>p₀ = <see cref="LokoOptions.P0Constant"/> for every entry.</summary>
    Constant,
    /// <summary>Per-entry values in [P0Min, P0Max] from squared gradients of the first <see cref="LokoOptions.WarmupExamples"/> examples.</summary>
    Bounded,
    /// <summary>One scale such that trace(G) = trace(R₀) at the first example: prior and noise weigh equally.</summary>
    Auto,
    /// <summary>
    /// Per entry p₀ ∝ 1/‖H_{·i}‖ at the first example (entries with less than a tenth of the RMS column norm
    /// count as that tenth), scaled as <see cref="Auto"/>: every entry's first step then changes the outputs in
    /// proportion to its gradient's size rather than its square, as a normalised-gradient optimizer's does.
    /// </summary>
    AutoNormalised,
}

/// <summary>Post-update residual ε used by the noise estimate.</summary>
public enum ResidualMode
{
    /// <summary>ε = e − G·S⁻¹·e (no extra forward pass).</summary>
    Linearised,
    /// <summary>ε = y − h(θ⁺, x): one more forward pass.</summary>
    Exact,
}

/// <summary>Whether R keeps its off-diagonal terms.</summary>
public enum NoiseStructure { Full, Diagonal }

/// <summary>
/// Every setting of the LoKO filter, with its default. Defaults were chosen by the sweeps in
/// `loko-bench sweep` (see README); R is per example (C×C) and block-diagonal over a mini-batch.
/// </summary>
public sealed record LokoOptions
{
    /// <summary>The paper's filter exactly as first shipped (every option below at this value).</summary>
    public static LokoOptions Paper { get; } = new();

    public InitialCovariance P0 { get; init; } = InitialCovariance.Auto;
    public double P0Constant { get; init; } = 1e-2;
    public double P0Min { get; init; } = 1e-4;
    public double P0Max { get; init; } = 1e-1;
    public int WarmupExamples { get; init; } = 20;

    /// <summary>Auto P₀: trace(G) = k·trace(R₀) at the first example (k = 1: prior and noise weigh equally).</summary>
    public double AutoPriorWeight { get; init; } = 1;

    /// <summary>R₀ = r₀·I.</summary>
    public double R0 { get; init; } = 0.1;
    /// <summary>EMA factor of the noise estimate: R ← β·R + (1−β)·(εεᵀ + G).</summary>
    public double Beta { get; init; } = 0.99;
    public NoiseStructure Noise { get; init; } = NoiseStructure.Full;
    public ResidualMode Residual { get; init; } = ResidualMode.Linearised;

    /// <summary>Process noise q: p ← p + q before each step (0 = parameters are static).</summary>
    public double Q { get; init; }
    /// <summary>
    /// Fading memory λ: p ← p / λ before each step (1 = off). Without it p shrinks like 1/t, so the gain of a
    /// well-observed parameter decays like recursive least squares'; with it the gain settles near 1 − λ.
    /// </summary>
    public double Forgetting { get; init; } = 1;
    /// <summary>Floor of every p entry, so no parameter ever stops learning entirely.</summary>
    public double PMin { get; init; } = 1e-10;

    /// <summary>First jitter δ added to S, relative to trace(S)/m, raised ×10 until Cholesky succeeds.</summary>
    public double Jitter { get; init; } = 1e-10;
    public int MaxJitterAttempts { get; init; } = 8;

    public GuardOptions Guard { get; init; } = new();

    public void Validate()
    {
        static void Positive(double v, string name) { if (!double.IsFinite(v) || v <= 0) throw new ArgumentOutOfRangeException(name, v, "must be a positive number"); }
        Positive(P0Constant, "p0Constant");
        Positive(P0Min, "p0Min");
        Positive(P0Max, "p0Max");
        Positive(R0, "r0");
        Positive(AutoPriorWeight, "autoPriorWeight");
        Positive(PMin, "pMin");
        Positive(Jitter, "jitter");
        if (P0Min > P0Max) throw new ArgumentOutOfRangeException("p0Min", P0Min, "must not exceed p0Max");
        if (!(Beta >= 0 && Beta < 1)) throw new ArgumentOutOfRangeException("beta", Beta, "must lie in [0, 1)");
        if (!(Forgetting > 0 && Forgetting <= 1)) throw new ArgumentOutOfRangeException("forgetting", Forgetting, "must lie in (0, 1]");
        if (!double.IsFinite(Q) || Q < 0) throw new ArgumentOutOfRangeException("q", Q, "must be zero or positive");
        if (WarmupExamples < 1) throw new ArgumentOutOfRangeException("warmupExamples", WarmupExamples, "must be at least 1");
        if (MaxJitterAttempts < 1) throw new ArgumentOutOfRangeException("maxJitterAttempts", MaxJitterAttempts, "must be at least 1");
        Guard.Validate();
    }
}
