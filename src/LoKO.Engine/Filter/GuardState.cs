using System.Globalization;
using static TorchSharp.torch;

namespace LoKO.Engine.Filter;

/// <summary>One closed guard window: its mean loss per step and its prequential score (0 of 0 for regression).</summary>
readonly record struct GuardWindow(double Loss, long Correct, long Examples);

/// <summary>
/// What the divergence guard (<see cref="DivergenceGuard"/>) remembers between steps, saved with the filter's state:
/// the open window's sums, the closed windows since the start or the last restore, the best span and the best window's
/// loss, and the best state: every piece of state a step reads (θ, p, R, a shared head's Σ, the priors' scalars), so a
/// restore returns the filter exactly to it.
/// </summary>
sealed class GuardState : IDisposable
{
    // The open window's sums.
    public int WindowCount { get; set; }
    public double WindowLoss { get; set; }
    public double WindowInnovation { get; set; }
    public long WindowCorrect { get; set; }
    public long WindowExamples { get; set; }
    /// <summary>The blow-up rule's yardstick.</summary>
    public double BestWindowLoss { get; set; } = double.PositiveInfinity;

    /// <summary>Closed windows since the start or the last restore, newest last, at most <see cref="GuardOptions.ReferenceWindows"/>.</summary>
    public List<GuardWindow> History { get; set; } = [];
    // The best span (none until the first span of GuardOptions.DriftWindows windows closes): its length, its
    // accuracy over its examples (classification) and its mean loss.
    public int BestWindows { get; set; }
    public double BestAccuracy { get; set; } = double.NaN;
    public long BestExamples { get; set; }
    public double BestLoss { get; set; } = double.PositiveInfinity;
    public bool HasBest => BestWindows > 0;
    /// <summary>The recent span's score when the best state was taken: its accuracy (classification) or minus its mean loss.</summary>
    public double SnapshotScore { get; set; } = double.NegativeInfinity;
    /// <summary>Consecutive windows whose recent span was collapsed.</summary>
    public int CollapsedWindows { get; set; }
    /// <summary>A slow-collapse restore whose restored state has not yet had a healthy span.</summary>
    public bool RestorePending { get; set; }

    // The best state: the one at the end of the best recent span (before the first span: the latest healthy window's).
    public Tensor? Theta { get; set; }
    public Tensor? P { get; set; }
    public Tensor? R { get; set; }
    public Tensor? Sigma { get; set; }
    public double PriorScale { get; set; }
    public double HeadPriorScale { get; set; }
    public double PriorSum { get; set; }
    public int PriorSeen { get; set; }

    /// <summary>The checkpoint name of the best state's Σ: a symmetric matrix, packed when the checkpoint is encoded.</summary>
    public const string SigmaName = "guard.sigma";

    /// <summary>Adds the guard's tensors (views of its own, Σ unpacked) and metadata to a checkpoint's.</summary>
    public void Save(Dictionary<string, Tensor> tensors, Dictionary<string, string> meta)
    {
        void Put(string name, Tensor? t) { if (t is not null) tensors[name] = t; }
        Put("guard.theta", Theta);
        Put("guard.p", P);
        Put("guard.r", R);
        Put(SigmaName, Sigma);
        // [windows, 3] float64: loss, correct, examples. The caller's dispose scope owns it.
        if (History.Count > 0)
            tensors["guard.history"] = tensor(History.SelectMany(w => new[] { w.Loss, w.Correct, w.Examples }).ToArray(), [History.Count, 3], ScalarType.Float64);
        static string D(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        static string L(long v) => v.ToString(CultureInfo.InvariantCulture);
        meta["guard.windowCount"] = L(WindowCount);
        meta["guard.windowLoss"] = D(WindowLoss);
        meta["guard.windowInnovation"] = D(WindowInnovation);
        meta["guard.windowCorrect"] = L(WindowCorrect);
        meta["guard.windowExamples"] = L(WindowExamples);
        meta["guard.bestWindowLoss"] = D(BestWindowLoss);
        meta["guard.bestWindows"] = L(BestWindows);
        meta["guard.bestAccuracy"] = D(BestAccuracy);
        meta["guard.bestExamples"] = L(BestExamples);
        meta["guard.bestLoss"] = D(BestLoss);
        meta["guard.snapshotScore"] = D(SnapshotScore);
        meta["guard.collapsedWindows"] = L(CollapsedWindows);
        meta["guard.restorePending"] = RestorePending ? "true" : "false";
        meta["guard.prior.scale"] = D(PriorScale);
        meta["guard.prior.headScale"] = D(HeadPriorScale);
        meta["guard.prior.sum"] = D(PriorSum);
        meta["guard.prior.seen"] = L(PriorSeen);
    }

    /// <param name="get">The saved tensor of a name, converted to where it belongs, or null.</param>
    /// <param name="current">The loaded filter state: what a checkpoint from before a key existed falls back to.</param>
    public static GuardState Load(IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string> meta,
                                  Func<string, Tensor?> get, KalmanState current)
    {
        double D(string k) => double.Parse(meta[k], CultureInfo.InvariantCulture);
        long L(string k) => long.Parse(meta[k], CultureInfo.InvariantCulture);
        // Keys added with the slow-collapse rule: an older checkpoint lacks them and gets what its guard would have had.
        double DOr(string k, double fallback) => meta.ContainsKey(k) ? D(k) : fallback;
        long LOr(string k, long fallback) => meta.ContainsKey(k) ? L(k) : fallback;
        var history = new List<GuardWindow>();
        if (tensors.TryGetValue("guard.history", out var h))
        {
            double[] v;
            using (var h64 = h.to(ScalarType.Float64)) v = h64.data<double>().ToArray();
            h.Dispose();
            for (int i = 0; i + 2 < v.Length; i += 3) history.Add(new GuardWindow(v[i], (long)v[i + 1], (long)v[i + 2]));
        }
        return new GuardState
        {
            WindowCount = (int)L("guard.windowCount"),
            WindowLoss = D("guard.windowLoss"),
            WindowInnovation = D("guard.windowInnovation"),
            WindowCorrect = LOr("guard.windowCorrect", 0),
            WindowExamples = LOr("guard.windowExamples", 0),
            BestWindowLoss = D("guard.bestWindowLoss"),
            History = history,
            BestWindows = (int)LOr("guard.bestWindows", 0),
            BestAccuracy = DOr("guard.bestAccuracy", double.NaN),
            BestExamples = LOr("guard.bestExamples", 0),
            BestLoss = DOr("guard.bestLoss", double.PositiveInfinity),
            SnapshotScore = DOr("guard.snapshotScore", double.NegativeInfinity),
            CollapsedWindows = (int)LOr("guard.collapsedWindows", 0),
            RestorePending = meta.TryGetValue("guard.restorePending", out var pending) && pending == "true",
            Theta = get("guard.theta"),
            P = get("guard.p"),
            R = get("guard.r"),
            // Before Σ was snapshotted a restore left Σ as it was: the current Σ stands in for the snapshot's.
            Sigma = get("guard.sigma") ?? current.Sigma?.detach().clone().DetachFromDisposeScope(),
            PriorScale = DOr("guard.prior.scale", current.PriorScale),
            HeadPriorScale = DOr("guard.prior.headScale", current.HeadPriorScale),
            PriorSum = DOr("guard.prior.sum", current.PriorSum),
            PriorSeen = (int)LOr("guard.prior.seen", current.PriorSeen),
        };
    }

    /// <summary>A copy for a filter whose classes grew: the same memory, each best-state tensor widened by its function.</summary>
    public GuardState Widen(Func<Tensor?, Tensor?> theta, Func<Tensor?, Tensor?> p, Func<Tensor?, Tensor?> r, Func<Tensor?, Tensor?> sigma) => new()
    {
        WindowCount = WindowCount, WindowLoss = WindowLoss, WindowInnovation = WindowInnovation,
        WindowCorrect = WindowCorrect, WindowExamples = WindowExamples, BestWindowLoss = BestWindowLoss,
        History = [.. History],
        BestWindows = BestWindows, BestAccuracy = BestAccuracy, BestExamples = BestExamples, BestLoss = BestLoss,
        SnapshotScore = SnapshotScore, CollapsedWindows = CollapsedWindows, RestorePending = RestorePending,
        Theta = theta(Theta), P = p(P), R = r(R), Sigma = sigma(Sigma),
        PriorScale = PriorScale, HeadPriorScale = HeadPriorScale, PriorSum = PriorSum, PriorSeen = PriorSeen,
    };

    public void Dispose()
    {
        Theta?.Dispose();
        P?.Dispose();
        R?.Dispose();
        Sigma?.Dispose();
    }
}
