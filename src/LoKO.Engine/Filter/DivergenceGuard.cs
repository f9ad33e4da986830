using System.Globalization;
using LoKO.Engine.Optimizers;
using LoKO.Engine.Platform;
using static TorchSharp.torch;

namespace LoKO.Engine.Filter;

/// <summary>
/// The divergence guard. After every applied step it is told the step's loss ℓ, normalised innovation ν = eᵀS⁻¹e / m
/// and prequential predictions; once per window of W = <see cref="GuardOptions.Window"/> steps it judges two rules,
/// and on either restores the best state with a damped gain (<see cref="Restore"/>):
/// <list type="number">
/// <item>blow-up (<see cref="BlowUp"/>): one window far worse than the best window;</item>
/// <item>slow collapse (<see cref="Collapse"/>): the recent span, the last S = <see cref="GuardOptions.DriftWindows"/>
/// windows, well below the best span, for <see cref="GuardOptions.DriftPatience"/> windows in a row.</item>
/// </list>
/// The yardstick is the best span: the best score of a trailing span, the windows since the start or the last restore
/// (at least S, at most <see cref="GuardOptions.ReferenceWindows"/>), long so as not to be a lucky statistic. The best
/// state is the one at the end of the best recent span, not of the best trailing one: a long span's mean lags its state
/// and can still rise while the state slides. A restore thus returns to the best state seen, not merely the latest.
/// What the guard remembers is in <see cref="GuardState"/>, so it survives a checkpoint.
/// </summary>
public sealed class DivergenceGuard
{
    /// <summary>How each guard event's reason begins (<see cref="StepOutcome.GuardEvent"/>).</summary>
    public const string LossBlowUp = "divergence: window loss", InnovationBlowUp = "divergence: window eᵀS⁻¹e/m", SlowCollapse = "slow collapse:";

    readonly GuardOptions _o;
    readonly KalmanState _s;
    readonly bool _classification;
    readonly bool _logits;

    internal DivergenceGuard(LokoOptions options, ObservationKind kind, KalmanState state)
    {
        _o = options.Guard;
        _s = state;
        _classification = kind == ObservationKind.Classification;
        _logits = options.Observation == ObservationSpace.Logits;
    }

    /// <summary>The kind of a guard event, for metrics: "loss", "innovation", "collapse" or "other".</summary>
    public static string KindOf(string guardEvent) =>
        guardEvent.StartsWith(LossBlowUp, StringComparison.Ordinal) ? "loss"
        : guardEvent.StartsWith(InnovationBlowUp, StringComparison.Ordinal) ? "innovation"
        : guardEvent.StartsWith(SlowCollapse, StringComparison.Ordinal) ? "collapse"
        : "other";

    /// <summary>One applied step. Returns what the guard did, with the rule and its figures, when it restored; otherwise null.</summary>
    internal string? Observe(double loss, double normalisedInnovation, Tensor predictions, Tensor targets)
    {
        var g = _s.Guard;
        var (correct, examples) = _classification ? Hits(predictions, targets) : (0, 0);
        g.WindowCount++;
        g.WindowLoss += loss;
        g.WindowInnovation += normalisedInnovation;
        g.WindowCorrect += correct;
        g.WindowExamples += examples;
        if (g.WindowCount < _o.Window) return null;

        var window = new GuardWindow(g.WindowLoss / g.WindowCount, g.WindowCorrect, g.WindowExamples);
        double meanInnovation = g.WindowInnovation / g.WindowCount;
        (g.WindowCount, g.WindowLoss, g.WindowInnovation, g.WindowCorrect, g.WindowExamples) = (0, 0, 0, 0, 0);

        if (BlowUp(window.Loss, meanInnovation) is { } blowUp)
        {
            Restore();
            g.RestorePending = false;
            return blowUp + Restored;
        }
        if (window.Loss < g.BestWindowLoss) g.BestWindowLoss = window.Loss;

        g.History.Add(window);
        if (g.History.Count > _o.ReferenceWindows) g.History.RemoveAt(0);
        if (g.History.Count < _o.DriftWindows)
        {
            // Before the first span the filter is still learning: the latest window good by loss is the best state known.
            if (!g.HasBest && LossHealthy(window.Loss)) Snapshot();
            return null;
        }

        var recent = Span.Of(g.History, g.History.Count - _o.DriftWindows);
        if (Collapse(recent) is { } collapse)
        {
            if (++g.CollapsedWindows < _o.DriftPatience) return null;
            g.CollapsedWindows = 0;
            if (g.RestorePending)
            {
                // The restored state collapsed before it had one healthy span: the stream has changed, not the filter.
                // Its level is the best there is now; judge from there rather than restore (and damp) again.
                g.RestorePending = false;
                SetBest(recent);
                g.SnapshotScore = Score(recent);
                Snapshot();
                return null;
            }
            Restore();
            g.RestorePending = true;
            return collapse + Restored;
        }
        g.CollapsedWindows = 0;
        g.RestorePending = false;
        // yardstick ← the trailing span if its score is the best yet; best state ← now if the recent span's score is
        var trailing = Span.Of(g.History, 0);
        if (!g.HasBest || Score(trailing) > Score(g.BestAccuracy, g.BestLoss)) SetBest(trailing);
        if (Score(recent) > g.SnapshotScore)
        {
            g.SnapshotScore = Score(recent);
            Snapshot();
        }
        return null;
    }

    /// <summary>Higher is better: a span's accuracy (classification) or minus its mean loss (regression).</summary>
    double Score(Span span) => Score(span.Accuracy, span.Loss);

    double Score(double accuracy, double loss) => _classification ? accuracy : -loss;

    string Restored => Invariant($"; restored the best state, gain and noise adaptation damped ×{_o.Damping}");

    /// <summary>
    /// ℓ̄_w > MaxLossRatio · min(ℓ̄_best window, ln C) and (classification) ℓ̄_w > ln C, or ν̄_w > MaxNormalisedInnovation.
    /// Classification has a natural yardstick: predicting uniformly costs ln C. The best window is a biased-low statistic
    /// on a long noisy stream (a lucky 50 examples), so twice it is ordinary noise there; a blow-up must also be worse
    /// than guessing uniformly. A filter that never beat chance is judged against chance.
    /// </summary>
    string? BlowUp(double meanLoss, double meanInnovation)
    {
        double chance = Chance;
        double reference = Math.Min(_s.Guard.BestWindowLoss, chance);
        if (double.IsFinite(reference) && meanLoss > _o.MaxLossRatio * reference && (!_classification || meanLoss > chance))
            return Invariant($"{LossBlowUp} {meanLoss:G4} > {_o.MaxLossRatio}× {reference:G4}{(_classification ? Invariant($" and > ln C = {chance:G4}") : "")}");
        if (meanInnovation > _o.MaxNormalisedInnovation)
            return Invariant($"{InnovationBlowUp} {meanInnovation:G4} > {_o.MaxNormalisedInnovation}");
        return null;
    }

    /// <summary>
    /// Classification: a* − a > δ, δ = max(MaxAccuracyDrop, z·√(ā(1 − ā)(1/n + 1/n*))), ā = (a + a*)/2, z = DriftSigmas,
    /// a and a* the recent and best spans' accuracies over n and n* examples: the drop must exceed a floor and z binomial
    /// standard errors of the difference. Regression: ℓ̄ > MaxLossDrift · ℓ̄*, the spans' mean losses.
    /// </summary>
    string? Collapse(Span recent)
    {
        var g = _s.Guard;
        if (!g.HasBest) return null;
        if (_classification)
        {
            double a = recent.Accuracy, best = g.BestAccuracy, mean = (a + best) / 2;
            double limit = Math.Max(_o.MaxAccuracyDrop, _o.DriftSigmas * Math.Sqrt(mean * (1 - mean) * (1.0 / recent.Examples + 1.0 / g.BestExamples)));
            return best - a > limit
                ? Invariant($"{SlowCollapse} accuracy {a:F3} over the last {recent.Examples} examples < the best span's {best:F3} (over {g.BestExamples}) − {limit:F3}")
                : null;
        }
        return recent.Loss > _o.MaxLossDrift * g.BestLoss
            ? Invariant($"{SlowCollapse} mean loss {recent.Loss:G4} over the last {recent.Windows * _o.Window} steps > {_o.MaxLossDrift}× the best span's {g.BestLoss:G4} (over {g.BestWindows * _o.Window})")
            : null;
    }

    /// <summary>Good enough to snapshot before the first span: near the best window's loss or, classification, well under chance.</summary>
    bool LossHealthy(double meanLoss) => meanLoss <= 1.25 * _s.Guard.BestWindowLoss || (_classification && meanLoss <= 0.75 * Chance);

    double Chance => _classification ? Math.Log(_s.R!.shape[0]) : double.PositiveInfinity;

    void SetBest(Span span)
    {
        var g = _s.Guard;
        (g.BestWindows, g.BestAccuracy, g.BestExamples, g.BestLoss) = (span.Windows, span.Accuracy, span.Examples, span.Loss);
    }

    /// <summary>The best state is the current one: every piece of state a step reads.</summary>
    internal void Snapshot()
    {
        var g = _s.Guard;
        g.Theta = Copy(_s.Theta, g.Theta);
        g.P = Copy(_s.P!, g.P);
        g.R = Copy(_s.R!, g.R);
        if (_s.Sigma is not null) g.Sigma = Copy(_s.Sigma, g.Sigma);
        (g.PriorScale, g.HeadPriorScale, g.PriorSum, g.PriorSeen) = (_s.PriorScale, _s.HeadPriorScale, _s.PriorSum, _s.PriorSeen);
    }

    /// <summary>
    /// Back to the best state with a smaller gain. Paper filter: p ÷ d and R × d, R an EMA estimate that re-adapts.
    /// Logit observation: p ÷ d and Σ ÷ d, τ kept. There R = τ·Λ is the categorical likelihood itself (τ = 1: the EKF is
    /// online natural gradient), and with τ fixed (temperatureBeta 0, as in the natural variant) nothing would ever
    /// bring an inflated τ back: every later example would count d× less for good. Shrinking the covariances instead
    /// says the restored mean is worth d× the evidence: the next steps move it d× less, and new evidence (and reversion
    /// toward p₀, Σ₀) outweighs that with time, so the filter learns again. Either way the noise estimate adapts d× more
    /// slowly, and the snapshot keeps the damping, so repeated divergence keeps slowing the filter. The copies are in
    /// place: no tensor is replaced.
    /// </summary>
    void Restore()
    {
        var g = _s.Guard;
        double d = _o.Damping;
        g.P!.OverInPlace(d);
        if (_logits) g.Sigma?.OverInPlace(d);
        else g.R!.TimesInPlace(d);
        _s.NoiseAdaptation /= d;
        using (no_grad()) _s.Theta.copy_(g.Theta!);
        _s.P!.copy_(g.P!);
        _s.R!.copy_(g.R!);
        if (g.Sigma is not null) _s.Sigma!.copy_(g.Sigma);
        (_s.PriorScale, _s.HeadPriorScale, _s.PriorSum, _s.PriorSeen) = (g.PriorScale, g.HeadPriorScale, g.PriorSum, g.PriorSeen);
        g.History.Clear();
        g.CollapsedWindows = 0;
        _s.GuardEvents++;
    }

    static Tensor Copy(Tensor source, Tensor? target)
    {
        if (target is null) return source.detach().clone().DetachFromDisposeScope();
        using (no_grad()) target.copy_(source);
        return target;
    }

    /// <summary>How many of the prequential predictions [b, C] were right (argmax = label), of b.</summary>
    static (long Correct, long Examples) Hits(Tensor predictions, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var labels = targets.to(ScalarType.Int64).cpu().reshape(-1);
        return (predictions.argmax(1).reshape(-1).eq(labels).sum().item<long>(), labels.shape[0]);
    }

    static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>Windows of <see cref="GuardState.History"/> from <paramref name="first"/> on: their score and mean loss.</summary>
    readonly record struct Span(int Windows, long Correct, long Examples, double Loss)
    {
        public double Accuracy => (double)Correct / Examples;

        public static Span Of(List<GuardWindow> history, int first)
        {
            var windows = history.Skip(first).ToList();
            return new Span(windows.Count, windows.Sum(w => w.Correct), windows.Sum(w => w.Examples), windows.Average(w => w.Loss));
        }
    }
}
