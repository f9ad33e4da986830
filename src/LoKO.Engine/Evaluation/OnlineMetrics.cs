using LoKO.Engine.Optimizers;

namespace LoKO.Engine.Evaluation;

/// <summary>
/// The online-evaluation figures of one run (LOKO-ALGORITHM.md, "Evaluation protocol"). Windowed accuracy
/// is the accuracy over the last <see cref="Window"/> examples; its curve has one point per full window:
/// <see cref="WindowedAccuracy"/>[k] covers examples k+1 … k+Window (1-based). A stream shorter than the
/// requested window uses one window of the whole stream; a stream shorter than twice the requested tail uses
/// its second half as the tail (a tail that spans the whole run would compare the learning phase itself with
/// the best window, and flag every learning curve as collapsed).
/// </summary>
public sealed record OnlineMetrics
{
    public const int DefaultWindow = 100;
    public const int DefaultTail = 300;
    /// <summary>A run has collapsed when its tail accuracy is below this fraction of its best windowed accuracy.</summary>
    public const double CollapseFraction = 0.9;

    public required int Examples { get; init; }
    /// <summary>Examples per window actually used (the requested window, or the stream length when shorter).</summary>
    public required int Window { get; init; }
    /// <summary>Examples in the tail actually used (the requested tail, or half the stream when that is shorter).</summary>
    public required int Tail { get; init; }
    /// <summary>Cumulative online (prequential) accuracy over the whole stream.</summary>
    public required double OnlineAccuracy { get; init; }
    public required IReadOnlyList<double> WindowedAccuracy { get; init; }
    public required double BestWindowedAccuracy { get; init; }
    /// <summary>Accuracy over the last <see cref="Tail"/> examples.</summary>
    public required double TailAccuracy { get; init; }
    public required double MeanStepMs { get; init; }
    public required int Rejected { get; init; }
    public required int Deferred { get; init; }
    public required int GuardEvents { get; init; }
    public double? HeldOutAccuracy { get; init; }
    /// <summary>The tail accuracy fell below <see cref="CollapseFraction"/> × the best windowed accuracy.</summary>
    public bool Collapsed => TailAccuracy < CollapseFraction * BestWindowedAccuracy;

    /// <summary>
    /// The number of examples seen (1-based, the last example of the window) when the windowed accuracy first
    /// reaches <paramref name="level"/>; null when it never does.
    /// </summary>
    public int? ExamplesToReach(double level)
    {
        for (int k = 0; k < WindowedAccuracy.Count; k++)
            if (WindowedAccuracy[k] >= level - 1e-12) return k + Window;
        return null;
    }

    public static OnlineMetrics From(OnlineRun run, int window = DefaultWindow, int tail = DefaultTail)
    {
        ArgumentNullException.ThrowIfNull(run);
        return From(run.Steps, run.HeldOutAccuracy, window, tail);
    }

    public static OnlineMetrics From(IReadOnlyList<StepRecord> steps, double? heldOutAccuracy = null,
        int window = DefaultWindow, int tail = DefaultTail) =>
        From([.. steps.Select(s => s.Correct)], [.. steps.Select(s => s.StepMs)], [.. steps.Select(s => s.Status)],
            steps.Count(s => s.GuardEvent is not null), heldOutAccuracy, window, tail);

    /// <summary>The figures from per-example outcomes: correct?, step time and status, in stream order.</summary>
    public static OnlineMetrics From(IReadOnlyList<bool> correct, IReadOnlyList<double> stepMs, IReadOnlyList<StepStatus> statuses,
        int guardEvents, double? heldOutAccuracy = null, int window = DefaultWindow, int tail = DefaultTail)
    {
        ArgumentNullException.ThrowIfNull(correct);
        ArgumentNullException.ThrowIfNull(stepMs);
        ArgumentNullException.ThrowIfNull(statuses);
        int n = correct.Count;
        if (n == 0) throw new ArgumentException("a run needs at least one example", nameof(correct));
        if (stepMs.Count != n || statuses.Count != n) throw new ArgumentException("one step time and one status per example are needed");
        if (window < 1) throw new ArgumentOutOfRangeException(nameof(window), window, "must be at least 1");
        if (tail < 1) throw new ArgumentOutOfRangeException(nameof(tail), tail, "must be at least 1");

        int w = Math.Min(window, n), t = Math.Min(tail, Math.Max(1, n / 2));
        // prefix[i] = correct predictions among the first i examples
        var prefix = new int[n + 1];
        for (int i = 0; i < n; i++) prefix[i + 1] = prefix[i] + (correct[i] ? 1 : 0);
        var curve = new double[n - w + 1];
        for (int k = 0; k < curve.Length; k++) curve[k] = (double)(prefix[k + w] - prefix[k]) / w;

        return new OnlineMetrics
        {
            Examples = n,
            Window = w,
            Tail = t,
            OnlineAccuracy = (double)prefix[n] / n,
            WindowedAccuracy = curve,
            BestWindowedAccuracy = curve.Max(),
            TailAccuracy = (double)(prefix[n] - prefix[n - t]) / t,
            MeanStepMs = stepMs.Average(),
            Rejected = statuses.Count(s => s == StepStatus.Rejected),
            Deferred = statuses.Count(s => s == StepStatus.Deferred),
            GuardEvents = guardEvents,
            HeldOutAccuracy = heldOutAccuracy,
        };
    }
}
