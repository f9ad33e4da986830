using System.Globalization;
using LoKO.Engine.Checkpoints;
using static TorchSharp.torch;

namespace LoKO.Engine.Filter;

/// <summary>
/// Everything the LoKO filter carries between steps: θ (the adapter's, shared, not owned), the diagonal
/// covariance p (same layout as θ), the per-example observation noise R (C×C, float64), counters, and
/// the divergence guard's memory (<see cref="GuardState"/>). Saved to and loaded from safetensors exactly.
/// </summary>
public sealed class KalmanState : IDisposable
{
    public KalmanState(Tensor theta) => Theta = theta;

    public Tensor Theta { get; }
    /// <summary>Diagonal of P; null until the first step initialises it.</summary>
    public Tensor? P { get; internal set; }
    /// <summary>Observation noise of one example (C×C); null until the first step fixes C.</summary>
    public Tensor? R { get; internal set; }

    public long Steps { get; internal set; }
    public long Applied { get; internal set; }
    public long Rejected { get; internal set; }
    public long GuardEvents { get; internal set; }
    /// <summary>Multiplies (1 − β); the guard lowers it after a divergence so R adapts more slowly.</summary>
    public double NoiseAdaptation { get; internal set; } = 1;

    // The logit observation (ObservationSpace.Logits): the shared head's Σ [d + 1, d + 1] (float64), the scalars of
    // the priors it reverts to (p₀ = PriorScale on the diagonal block, Σ₀ = HeadPriorScale·I) and the running sum of
    // the measurements that set PriorScale over the first examples. Its noise is R = τ·Λ per example: R above then
    // holds τ·I.
    public Tensor? Sigma { get; internal set; }
    public double PriorScale { get; internal set; }
    public double HeadPriorScale { get; internal set; }
    internal double PriorSum { get; set; }
    /// <summary>The paper's p₀ over the head per column, [d + 1] (each feature's weights, then the bias): a new class's prior.</summary>
    public Tensor? HeadPrior { get; internal set; }
    internal int PriorSeen { get; set; }

    /// <summary>The divergence guard's windows, best span and best state.</summary>
    internal GuardState Guard { get; set; } = new();

    // Bounded P₀: squared gradients gathered so far during warm-up.
    internal Tensor? WarmupSquaredGradients { get; set; }
    internal int WarmupSeen { get; set; }

    // Σ and the guard's copy of it: stored as their upper triangles (SymmetricPacking) when the file is encoded.
    static readonly HashSet<string> Symmetric = new(["sigma", GuardState.SigmaName], StringComparer.Ordinal);

    public void Save(Stream stream)
    {
        using var scope = NewDisposeScope();
        var (tensors, meta) = Contents();
        SafetensorsCodec.Write(stream, SymmetricPacking.Packed(tensors, Symmetric), meta);
    }

    /// <summary>
    /// What <see cref="Save"/> would write now, copied: encoded later, it is these bytes whatever the filter learns
    /// meanwhile. Only the copy is made here; packing Σ (most of the work) is the encoding's.
    /// </summary>
    public StateSnapshot Snapshot()
    {
        using var scope = NewDisposeScope();
        var (tensors, meta) = Contents();
        return StateSnapshot.Of(tensors, meta, Symmetric);
    }

    /// <summary>A checkpoint's tensors (views of the live ones, Σ unpacked; the guard's history the caller's dispose scope owns) and metadata.</summary>
    (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Meta) Contents()
    {
        var tensors = new Dictionary<string, Tensor> { ["theta"] = Theta.detach() };
        void Put(string name, Tensor? t) { if (t is not null) tensors[name] = t; }
        Put("p", P);
        Put("r", R);
        Put("warmup.g2", WarmupSquaredGradients);
        Put("sigma", Sigma);
        Put("prior.head", HeadPrior);
        var meta = new Dictionary<string, string>
        {
            ["steps"] = Steps.ToString(CultureInfo.InvariantCulture),
            ["applied"] = Applied.ToString(CultureInfo.InvariantCulture),
            ["rejected"] = Rejected.ToString(CultureInfo.InvariantCulture),
            ["guardEvents"] = GuardEvents.ToString(CultureInfo.InvariantCulture),
            ["noiseAdaptation"] = NoiseAdaptation.ToString("R", CultureInfo.InvariantCulture),
            ["warmup.seen"] = WarmupSeen.ToString(CultureInfo.InvariantCulture),
            ["prior.scale"] = PriorScale.ToString("R", CultureInfo.InvariantCulture),
            ["prior.headScale"] = HeadPriorScale.ToString("R", CultureInfo.InvariantCulture),
            ["prior.sum"] = PriorSum.ToString("R", CultureInfo.InvariantCulture),
            ["prior.seen"] = PriorSeen.ToString(CultureInfo.InvariantCulture),
        };
        Guard.Save(tensors, meta);
        return (tensors, meta);
    }

    /// <summary>Reads a saved state, writing its θ into <paramref name="theta"/> (the adapter's own tensor).</summary>
    public static KalmanState Load(Stream stream, Tensor theta)
    {
        // Every tensor read, and every intermediate of a conversion, is freed at the end but those the state keeps.
        using var scope = NewDisposeScope();
        var (tensors, meta) = SafetensorsCodec.Read(stream);
        var saved = tensors["theta"];
        if (!saved.shape.SequenceEqual(theta.shape))
            throw new InvalidDataException($"saved θ has shape [{string.Join(",", saved.shape)}], the adapter's is [{string.Join(",", theta.shape)}]");
        using (no_grad()) theta.copy_(saved);
        saved.Dispose();
        Tensor? Get(string name) => (name.EndsWith("sigma") ? SymmetricPacking.Get(tensors, name) : tensors.GetValueOrDefault(name)) is { } t
            ? t.to(name is "r" or "sigma" || name.EndsWith(".r") || name.EndsWith(".sigma") ? ScalarType.Float64 : theta.dtype).to(theta.device).DetachFromDisposeScope()
            : null;
        long L(string k) => long.Parse(meta[k], CultureInfo.InvariantCulture);
        double D(string k) => double.Parse(meta[k], CultureInfo.InvariantCulture);
        // Checkpoints written before the logit observation existed lack its keys.
        double DOr(string k, double fallback) => meta.ContainsKey(k) ? D(k) : fallback;
        var state = new KalmanState(theta)
        {
            P = Get("p"),
            R = Get("r"),
            WarmupSquaredGradients = Get("warmup.g2"),
            Steps = L("steps"),
            Applied = L("applied"),
            Rejected = L("rejected"),
            GuardEvents = L("guardEvents"),
            NoiseAdaptation = D("noiseAdaptation"),
            WarmupSeen = (int)L("warmup.seen"),
            Sigma = Get("sigma"),
            HeadPrior = Get("prior.head"),
            PriorScale = DOr("prior.scale", 0),
            HeadPriorScale = DOr("prior.headScale", 0),
            PriorSum = DOr("prior.sum", 0),
            PriorSeen = (int)DOr("prior.seen", 0),
        };
        state.Guard = GuardState.Load(tensors, meta, Get, state);
        return state;
    }

    public void Dispose()
    {
        P?.Dispose();
        R?.Dispose();
        Guard.Dispose();
        WarmupSquaredGradients?.Dispose();
        Sigma?.Dispose();
        HeadPrior?.Dispose();
    }
}
