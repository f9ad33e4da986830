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

/// <summary>What the filter observes (KALMAN-QUALITY.md, candidate A).</summary>
public enum ObservationSpace
{
    /// <summary>The paper's: ŷ = softmax(z) with an EMA-estimated R (steps 1–10 of LOKO-ALGORITHM.md).</summary>
    Probabilities,
    /// <summary>
    /// y ~ Categorical(softmax(z)), linearised in the logits: R = τ·Λ with Λ = diag(ŷ) − ŷŷᵀ per example, so
    /// K·e = P·Jᵀ·(τI + Λ·J·P·Jᵀ)⁻¹·e, the EKF that equals online natural gradient on cross-entropy.
    /// </summary>
    Logits,
}

/// <summary>How the task head's covariance is kept (candidate B).</summary>
public enum HeadCovariance
{
    /// <summary>Head entries are part of θ's one diagonal p.</summary>
    Diagonal,
    /// <summary>The head is its own block, prior I_C ⊗ Σ with Σ full over [features; 1]: recursive least squares, no reverse pass.</summary>
    Shared,
}

/// <summary>How the diagonal block (the LoRA entries, and the head when it is not shared) observes the example (candidate D).</summary>
public enum DiagonalObservation
{
    /// <summary>The C rows of J = ∂z/∂θ: C reverse passes (or one per-copy run).</summary>
    Jacobian,
    /// <summary>One row, the log-likelihood gradient g = Jᵀe (one reverse pass at any C), with the empirical Fisher g·gᵀ.</summary>
    Gradient,
}

/// <summary>How the diagonal p absorbs an observation (candidate C).</summary>
public enum DiagonalForm
{
    /// <summary>p ← p − p ⊙ diag(K·H·P)/p: the exact diagonal of the posterior covariance.</summary>
    Covariance,
    /// <summary>1/p ← 1/p + diag(Hᵀ·R⁻¹·H): each entry accumulates its own information (VD-EKF).</summary>
    Precision,
    /// <summary>
    /// Square-root information, 1/p² ← 1/p² + g²/s² (gradient observation only): each entry accumulates its own
    /// information as in the precision form, but its step shrinks like 1/√t, as AdaGrad's, not like 1/t.
    /// </summary>
    RootPrecision,
}

/// <summary>Which covariance moves the diagonal block's mean under the gradient observation.</summary>
public enum DiagonalMean
{
    /// <summary>θ ← θ + P⁻·g·(eᵀu / eᵀe): the prior covariance, through the joint innovation with the head.</summary>
    Prior,
    /// <summary>θ ← θ + P⁺·g / τ: the posterior covariance (BONG's information-form step); with the root-precision form, AdaGrad's step.</summary>
    Posterior,
}

/// <summary>
/// Every setting of the LoKO filter. The property defaults are the paper's filter (<see cref="Paper"/>); the
/// product's default and the other named configurations are in <see cref="LokoVariants"/>. R is per example
/// (C×C) and block-diagonal over a mini-batch.
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

    // Settings of the logit observation (Observation = Logits); the paper's filter ignores them.

    public ObservationSpace Observation { get; init; } = ObservationSpace.Probabilities;
    public HeadCovariance Head { get; init; } = HeadCovariance.Diagonal;
    public DiagonalObservation DiagonalObservation { get; init; } = DiagonalObservation.Jacobian;
    public DiagonalForm DiagonalForm { get; init; } = DiagonalForm.Covariance;
    /// <summary>Prior variance of each logit from the shared head, v_h: Σ₀ = v_h / ‖[φ; 1]‖² · I at the first example.</summary>
    public double HeadPriorVariance { get; init; } = 1;
    /// <summary>Prior variance of each logit from the diagonal block, v_d: p₀ = v_d·C / ‖J‖²_F (Jacobian) or v_d·‖e‖² / ‖g‖² (gradient).</summary>
    public double DiagonalPriorVariance { get; init; } = 1;
    /// <summary>
    /// Examples over which p₀'s scale is measured (their running mean; p is rescaled with it until then). LoRA's B
    /// starts at zero, so A's Jacobian is exactly zero at the first example: one example cannot see it.
    /// </summary>
    public int PriorExamples { get; init; } = 1;
    /// <summary>Mean reversion γ of the diagonal block: p ← γ²·p + (1 − γ²)·p₀ before each step (1 = off).</summary>
    public double Reversion { get; init; } = 1;
    /// <summary>Mean reversion γ_h of a shared head: Σ ← γ_h²·Σ + (1 − γ_h²)·Σ₀ before each step (1 = off).</summary>
    public double HeadReversion { get; init; } = 1;
    public DiagonalMean DiagonalMean { get; init; } = DiagonalMean.Prior;
    /// <summary>Scale s of <see cref="DiagonalForm.RootPrecision"/>: p → s/√Σg² once the data outweigh the prior.</summary>
    public double RootScale { get; init; } = 0.01;
    /// <summary>Initial temperature τ of the categorical noise R = τ·Λ.</summary>
    public double Temperature { get; init; } = 1;
    /// <summary>EMA factor of the temperature, τ ← β_τ·τ + (1 − β_τ)·τ·eᵀS⁻¹e/(C − 1) (0 = τ fixed).</summary>
    public double TemperatureBeta { get; init; }
    /// <summary>Robust weighting (IMQ, WoLF): R ← R / w with w = c² / (c² + eᵀS⁻¹e); 0 = off.</summary>
    public double RobustScale { get; init; }
    /// <summary>εI added to Λ, relative to 1/C, so R stays positive definite when ŷ saturates.</summary>
    public double LambdaFloor { get; init; } = 1e-6;

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
        Positive(HeadPriorVariance, "headPriorVariance");
        Positive(DiagonalPriorVariance, "diagonalPriorVariance");
        Positive(Temperature, "temperature");
        if (PriorExamples < 1) throw new ArgumentOutOfRangeException("priorExamples", PriorExamples, "must be at least 1");
        if (!(Reversion > 0 && Reversion <= 1)) throw new ArgumentOutOfRangeException("reversion", Reversion, "must lie in (0, 1]");
        if (!(HeadReversion > 0 && HeadReversion <= 1)) throw new ArgumentOutOfRangeException("headReversion", HeadReversion, "must lie in (0, 1]");
        if (!(TemperatureBeta >= 0 && TemperatureBeta < 1)) throw new ArgumentOutOfRangeException("temperatureBeta", TemperatureBeta, "must lie in [0, 1)");
        if (!double.IsFinite(RobustScale) || RobustScale < 0) throw new ArgumentOutOfRangeException("robustScale", RobustScale, "must be zero (off) or positive");
        if (!double.IsFinite(LambdaFloor) || LambdaFloor < 0) throw new ArgumentOutOfRangeException("lambdaFloor", LambdaFloor, "must be zero or positive");
        if (Observation == ObservationSpace.Probabilities && (Head != HeadCovariance.Diagonal || DiagonalObservation != DiagonalObservation.Jacobian || DiagonalForm != DiagonalForm.Covariance))
            throw new ArgumentException("head, diagonalObservation and diagonalForm other than the paper's need observation 'logits'", "observation");
        Positive(RootScale, "rootScale");
        if (DiagonalObservation == DiagonalObservation.Jacobian && DiagonalForm == DiagonalForm.RootPrecision)
            throw new ArgumentException("diagonalForm 'rootPrecision' needs diagonalObservation 'gradient'", "diagonalForm");
        if (DiagonalObservation == DiagonalObservation.Jacobian && DiagonalMean == DiagonalMean.Posterior)
            throw new ArgumentException("diagonalMean 'posterior' needs diagonalObservation 'gradient'", "diagonalMean");
        if (Observation == ObservationSpace.Logits && P0 == InitialCovariance.Bounded)
            throw new ArgumentException("the logit observation sets p₀ from its prior variances; p0 'bounded' belongs to the paper's filter", "p0");
        if (Observation == ObservationSpace.Logits)
        {
            // The logit observation's noise is τ·Λ and its process noise is reversion: the paper's noise and memory settings would be ignored.
            var paper = Paper;
            if (R0 != paper.R0) throw new ArgumentException("the logit observation's noise is τ·Λ; set temperature, not r0", "r0");
            if (Beta != paper.Beta) throw new ArgumentException("the logit observation's noise is τ·Λ; set temperatureBeta, not beta", "beta");
            if (Noise != paper.Noise) throw new ArgumentException("the logit observation's noise is τ·Λ; noise belongs to the paper's filter", "noise");
            if (Residual != paper.Residual) throw new ArgumentException("the logit observation estimates no residual; residual belongs to the paper's filter", "residual");
            if (Q != paper.Q) throw new ArgumentException("the logit observation's process noise is reversion; set reversion, not q", "q");
            if (Forgetting != paper.Forgetting) throw new ArgumentException("the logit observation's process noise is reversion; set reversion, not forgetting", "forgetting");
        }
        Guard.Validate();
    }
}
