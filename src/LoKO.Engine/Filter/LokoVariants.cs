namespace LoKO.Engine.Filter;

/// <summary>
/// The named configurations of the LoKO filter. A tenant stores the name it was created with, so a later change
/// of <see cref="Default"/> never changes how an existing tenant learns.
/// </summary>
public static class LokoVariants
{
    /// <summary>The paper's filter (LOKO-ALGORITHM.md, steps 1–10): probabilities observed, one diagonal over θ, EMA noise.</summary>
    public const string Paper = "paper";

    /// <summary>
    /// The natural-gradient filter: logits observed with the categorical noise Λ, the head its own block with a full
    /// shared covariance (recursive least squares), the LoRA block diagonal in precision form fed by the gradient
    /// (one reverse pass at any C), its prior measured over the first 20 examples. Chosen by the sweeps and full runs
    /// of docs/benchmarks/2026-12-01.
    /// </summary>
    public const string Natural = "natural";

    /// <summary>
    /// The natural filter with the LoRA block of square-root information: 1/p² ← 1/p² + g²/s² with s = 0.01 and
    /// θ ← θ + p⁺·g/τ outside the joint innovation, i.e. AdaGrad's per-entry law at rate s/τ, with no effective prior
    /// (v_d = 10⁶: the accumulated information sets every step from the first example). The head stays the shared-
    /// covariance RLS block. Measured against <see cref="Natural"/>, whose 1/t precision law stalls LoRA learning after
    /// a few hundred examples (docs/benchmarks/2026-12-01/README.md, "root").
    /// </summary>
    public const string NaturalRoot = "natural-root";

    /// <summary>
    /// <see cref="NaturalRoot"/> under a LoRA prior of logit variance v_d = 0.3: 1/p² = 1/p₀² + Σg²/s², i.e. AdaGrad's
    /// law with an initial accumulator that caps the first steps. Without it the first, normalised steps move every LoRA
    /// entry by about s at once (B starts at zero, A's gradients are tiny) and the features under the head shift while
    /// it is learning: on MNIST the 100-window at example 200 is 0.51 without the prior, 0.72 with it
    /// (docs/benchmarks/2026-12-02/prior).
    /// </summary>
    public const string NaturalRootPrior = "natural-root-prior";

    /// <summary>
    /// <see cref="NaturalRootPrior"/> with robust weighting of the innovation (KALMAN-QUALITY.md, candidate E; WoLF-IMQ):
    /// R ← R / w, w = c² / (c² + eᵀS⁻¹e) with c = 8. A typical example (eᵀS⁻¹e ≈ C − 1) keeps most of its weight; a
    /// confident error — on a stream with ambiguous or wrong labels, most often the label's fault — moves the head and
    /// the LoRA block less. Chosen by the full runs of docs/benchmarks/2026-12-03/robust.
    /// </summary>
    public const string NaturalRobust = "natural-robust";

    /// <summary>
    /// <see cref="NaturalRoot"/> with <see cref="NaturalRobust"/>'s robust weight (c = 8) and without its LoRA prior. The
    /// prior's cap on the first steps, which helped the head on MNIST's seed 1, held the LoRA block back for the whole
    /// stream on other orders (MNIST seed 3: 0.928 with it, 0.937 without, AdaGrad 0.935); the robust weight alone keeps the
    /// early steps from shaking the features. Chosen by the full runs of docs/benchmarks/2026-12-03/lora-prior.
    /// </summary>
    public const string NaturalRootRobust = "natural-root-robust";

    /// <summary>
    /// <see cref="NaturalRootRobust"/> under a mild LoRA prior of logit variance v_d = 10 (33× <see cref="NaturalRootPrior"/>'s):
    /// an entry whose gradient is at rounding level takes a step of about p₀·g, not a normalised step of size s, so two
    /// correct computations of the same steps (fused or node by node, one tenant per pass or many) keep θ
    /// within 3·10⁻⁶ of scale instead of parting by 10⁻³; the prior stops counting after the first few examples' gradients,
    /// so it does not cap the LoRA steps as v_d = 0.3 did. Chosen by the full runs of docs/benchmarks/2026-12-03/mild-prior.
    /// </summary>
    public const string NaturalRootRobustV10 = "natural-root-robust-v10";

    /// <summary>The variant a tenant gets when it names none.</summary>
    public const string Default = NaturalRootRobustV10;

    public static IReadOnlyList<string> Names { get; } = [Natural, NaturalRobust, NaturalRoot, NaturalRootPrior, NaturalRootRobust, NaturalRootRobustV10, Paper];

    /// <summary>The options of a named variant; settings given with it override its values.</summary>
    public static LokoOptions Named(string name) => name.ToLowerInvariant() switch
    {
        Paper => LokoOptions.Paper,
        Natural => NaturalOptions,
        NaturalRoot => NaturalRootOptions,
        NaturalRootPrior => NaturalRootPriorOptions,
        NaturalRobust => NaturalRobustOptions,
        NaturalRootRobust => NaturalRootRobustOptions,
        NaturalRootRobustV10 => NaturalRootRobustV10Options,
        _ => throw new ArgumentException($"unknown filter variant '{name}': one of {string.Join(", ", Names)}", nameof(name)),
    };

    static readonly LokoOptions NaturalOptions = LokoOptions.Paper with
    {
        Observation = ObservationSpace.Logits,
        Head = HeadCovariance.Shared,
        DiagonalObservation = DiagonalObservation.Gradient,
        DiagonalForm = DiagonalForm.Precision,
        HeadPriorVariance = 5,
        DiagonalPriorVariance = 0.03,
        PriorExamples = 20,
    };

    static readonly LokoOptions NaturalRootOptions = NaturalOptions with
    {
        DiagonalForm = DiagonalForm.RootPrecision,
        DiagonalMean = DiagonalMean.Posterior,
        RootScale = 0.01,
        DiagonalPriorVariance = 1e6,
    };

    static readonly LokoOptions NaturalRootPriorOptions = NaturalRootOptions with { DiagonalPriorVariance = 0.3 };

    static readonly LokoOptions NaturalRobustOptions = NaturalRootPriorOptions with { RobustScale = 8 };

    static readonly LokoOptions NaturalRootRobustOptions = NaturalRootOptions with { RobustScale = 8 };

    static readonly LokoOptions NaturalRootRobustV10Options = NaturalRootRobustOptions with { DiagonalPriorVariance = 10 };
}
