using LoKO.Engine.Optimizers;
using LoKO.Engine.Platform;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoKO.Engine.Filter;

/// <summary>
/// The LoKO optimizer: an extended Kalman filter over the flat LoRA/head vector θ with a diagonal
/// covariance p and an EMA estimate of the observation noise R. Each numbered step below is the step
/// of the same number in LOKO-ALGORITHM.md. Cost per step: one forward and b·(C−1) reverse passes (classification),
/// or, when the forward pass offers per-copy runs, one run of C−1 copies and ONE reverse pass; O(m²n + m³) algebra,
/// the n-long sums in θ's precision and the m×m algebra in float64.
/// </summary>
public sealed partial class LokoFilter : ISharedPassOptimizer
{
    readonly LokoOptions _options;
    readonly ObservationKind _kind;
    readonly LogitStep? _logit;
    readonly DivergenceGuard? _guard;
    readonly HeadBlock? _head;

    /// <param name="head">Where the head sits in θ: needed by the logit observation (<see cref="ObservationSpace.Logits"/>).</param>
    public LokoFilter(Tensor theta, LokoOptions? options = null, ObservationKind kind = ObservationKind.Classification, KalmanState? state = null,
                      HeadBlock? head = null)
    {
        _options = options ?? new LokoOptions();
        _options.Validate();
        _kind = kind;
        if (theta.dim() != 1) throw new ArgumentException("θ must be a flat vector", nameof(theta));
        State = state ?? new KalmanState(theta);
        if (!ReferenceEquals(State.Theta, theta)) throw new ArgumentException("the state belongs to another θ", nameof(state));
        _head = head;
        if (_options.Guard.Enabled) _guard = new DivergenceGuard(_options, kind, State);
        if (_options.Observation == ObservationSpace.Logits)
        {
            if (kind != ObservationKind.Classification) throw new ArgumentException("the logit observation is for classification", nameof(kind));
            if (head is null) throw new ArgumentException("the logit observation needs the head's place in θ", nameof(head));
            _logit = new LogitStep(_options, State, head);
        }
    }

    public string Name => "loko";
    public KalmanState State { get; }
    public LokoOptions Options => _options;

    public StepOutcome Step(Func<Tensor> forward, Tensor targets) => Step(new ForwardPass(forward), targets);

    public StepOutcome Step(ForwardPass forward, Tensor targets)
    {
        using var scope = NewDisposeScope();
        State.Steps++;
        if (_logit is not null)
        {
            var outcome = Guarded(_logit.Step(forward, targets, Reject, _guard is null ? null : _guard.Snapshot), targets);
            outcome.Predictions.MoveToOuterDisposeScope();
            return outcome;
        }
        var theta = State.Theta;

        // 2. forward: ŷ = h(θ, x) — the prequential prediction, made before learning.
        // 3. Jacobian: H ∈ ℝ^{m×n}, row j = ∂ŷ_j/∂θ (from per-copy runs where the model offers them).
        var copies = CopiesFor(forward, targets);
        var (outputs, jacobian) = copies > 0 ? ForwardCopies(forward, copies) : (forward.Forward(), null);
        var yHat = Observation.Predict(_kind, outputs);
        var predictions = yHat.detach().cpu().MoveToOuterDisposeScope();
        double loss;
        using (no_grad()) loss = Observation.Loss(_kind, outputs.detach(), targets).Value();
        if (!yHat.isfinite().all().item<bool>())
            return Reject(predictions, loss, "the prediction is not finite (non-finite input or state)");

        var y = Observation.Target(_kind, targets, outputs);
        var h = jacobian is null ? Jacobian(yHat, theta) : jacobian();
        if (!h.isfinite().all().item<bool>()) return Reject(predictions, loss, "the Jacobian is not finite");

        if (State.P is null && _options.P0 == InitialCovariance.Bounded)
        {
            // R exists from the first example: the guard snapshots it when the warm-up completes.
            if (State.R is null)
                State.R = torch.eye(outputs.shape[1], dtype: ScalarType.Float64, device: State.Theta.device).Times(_options.R0).DetachFromDisposeScope();
            return Warmup(forward, targets, h, predictions, loss);
        }
        InitialiseIfNeeded(h, outputs.shape[1]);

        // 4. innovation: e = y − ŷ
        var e = (y.reshape(-1) - yHat.reshape(-1)).detach();
        return Update(forward, h, e, y, targets, predictions, loss);
    }

    /// <summary>A step of the gradient observation (the default variant) shares passes; the Jacobian ones and the paper's filter do not.</summary>
    public bool SharesPass(Tensor targets) => _logit is { SharesPass: true } && targets.shape[0] == 1;

    public SharedStep Begin(SharedRow row, Tensor targets)
    {
        if (!SharesPass(targets)) throw new InvalidOperationException("this filter's step needs reverse passes of its own: run Step");
        State.Steps++;
        return _logit!.Begin(row.Features, targets, Reject, _guard is null ? null : _guard.Snapshot).Then(outcome => Guarded(outcome, targets));
    }

    StepOutcome Guarded(StepOutcome outcome, Tensor targets) =>
        !outcome.Applied || _guard is null ? outcome
            : outcome with { GuardEvent = _guard.Observe(outcome.Loss, outcome.NormalisedInnovation, outcome.Predictions, targets) };

    StepOutcome Update(ForwardPass forward, Tensor h, Tensor e, Tensor y, Tensor targets, Tensor predictions, double loss)
    {
        // 1. predict: p ← p / λ + q (a new tensor: a rejected step must leave p as it was)
        var p = State.P!;
        if (_options.Forgetting < 1) p = p.Over(_options.Forgetting);
        if (_options.Q > 0) p = p.Plus(_options.Q);
        int b = (int)(h.shape[0] / State.R!.shape[0]);
        var r = BlockDiagonal(State.R, b);

        // 5. G = H·diag(p)·Hᵀ                      (m×m; sums over n in θ's precision, m×m algebra in float64)
        var hp = h * p;
        var g = matmul(hp, h.t()).to(ScalarType.Float64);
        // 6. S = G + R + δI, δ raised until Cholesky succeeds
        var l = Cholesky(g.Plus(r));
        if (l is null) return Reject(predictions, loss, "S is not positive definite even with jitter");
        // 7. K = diag(p)·Hᵀ·S⁻¹ is never formed: step 8 needs only S⁻¹·e and step 9 only diag(Hᵀ·S⁻¹·H)
        var e64 = e.to(ScalarType.Float64);
        var sInvE = cholesky_solve(e64.unsqueeze(1), l).squeeze(1);
        // 8. θ ← θ + K·e = θ + (H·diag(p))ᵀ·S⁻¹·e
        var dTheta = matmul(sInvE.to(hp.dtype), hp);
        // 9. p ← max(p − p ⊙ Σ_j K_{·j} ⊙ H_{j·}, p_min)      (exact diagonal of (I − KH)P)
        //    Σ_j K_{ij}·H_{ji} = p_i·(Hᵀ·S⁻¹·H)_{ii} = p_i·‖(L⁻¹·H)_{·i}‖² with S = L·Lᵀ
        var u = linalg.solve_triangular(l.to(h.dtype), h, upper: false);
        var pNew = (p - p * p * u.Squared().sum(dim: 0)).AtLeast(_options.PMin);
        double nis = e64.dot(sInvE).item<double>();
        if (!AllFinite(g, dTheta, pNew) || !double.IsFinite(nis))
            return Reject(predictions, loss, "the Kalman update is not finite");

        var thetaBefore = _options.Residual == ResidualMode.Exact ? State.Theta.detach().clone() : null;
        using (no_grad()) State.Theta.PlusInPlace(dTheta);
        // 10. noise: ε = e − G·S⁻¹·e (linearised) or y − h(θ⁺, x) (exact); R ← β·R + (1−β)·(εεᵀ + G)
        Tensor eps;
        if (thetaBefore is null) eps = e64 - matmul(g, sInvE);
        else using (no_grad()) eps = (y.reshape(-1) - Observation.Predict(_kind, forward.Forward()).reshape(-1)).to(ScalarType.Float64);
        double beta = 1 - (1 - _options.Beta) * State.NoiseAdaptation;
        var rNew = State.R.Times(beta).Plus(BlockMean(eps.outer(eps).Plus(g), b).Times(1 - beta));
        if (_options.Noise == NoiseStructure.Diagonal) rNew = rNew.diag().diag();
        if (!AllFinite(eps, rNew))
        {
            if (thetaBefore is not null) using (no_grad()) State.Theta.copy_(thetaBefore);
            else using (no_grad()) State.Theta.sub_(dTheta);
            return Reject(predictions, loss, "the noise estimate is not finite");
        }

        Replace(State.P!, pNew, p => State.P = p);
        Replace(State.R!, rNew, r => State.R = r);
        State.Applied++;
        int m = (int)h.shape[0];
        string? guardEvent = _guard?.Observe(loss, nis / m, predictions, targets);
        return new StepOutcome(predictions, loss, StepStatus.Applied,
            InnovationNorm: e64.norm().item<double>(),
            NormalisedInnovation: nis / m,
            NoiseTrace: State.R!.trace().item<double>(),
            MeanCovariance: State.P!.mean().Value(),
            GuardEvent: guardEvent);
    }

    /// <summary>
    /// Reverse passes over one retained graph; unused θ entries get zero rows. For classification the
    /// C probabilities of an example sum to one, so their gradients sum to zero: the last row of each
    /// example is minus the sum of the others, one reverse pass fewer per example (half the passes at C = 2).
    /// </summary>
    Tensor Jacobian(Tensor yHat, Tensor theta)
    {
        long b = yHat.shape[0], c = yHat.shape[1];
        bool simplex = _kind == ObservationKind.Classification && c > 1;
        long perExample = simplex ? c - 1 : c;
        var rows = new Tensor[b * c];
        long remaining = b * perExample;
        for (long i = 0; i < b; i++)
        {
            for (long j = 0; j < perExample; j++)
            {
                var grad = autograd.grad([yHat[i, j]], [theta], retain_graph: --remaining > 0, allow_unused: true)[0];
                rows[i * c + j] = grad is null || grad.IsInvalid ? zeros_like(theta) : grad;
            }
            if (simplex) rows[i * c + c - 1] = -stack(rows[(int)(i * c)..(int)(i * c + c - 1)]).sum(dim: 0);
        }
        return stack(rows).detach();
    }

    /// <summary>K, the copies a per-copy run needs for this step (one per Jacobian row to compute), or 0 to use sequential passes.</summary>
    long CopiesFor(ForwardPass forward, Tensor targets)
    {
        if (forward.Copies is null || forward.Outputs < 1 || targets.shape[0] != 1) return 0;
        bool simplex = _kind == ObservationKind.Classification && forward.Outputs > 1;
        return simplex ? forward.Outputs - 1 : forward.Outputs;
    }

    /// <summary>
    /// One run of K copies, copy k on θ's values in row k of a fresh [K, n] leaf, and one reverse pass of
    /// Σ_k ŷ_k(copy k): row k of the gradient is ∂ŷ_k/∂θ. Every copy computes the same ŷ, so copy 0 is the
    /// prediction. As in <see cref="Jacobian"/>, the last class's row of a softmax comes from the others.
    /// </summary>
    (Tensor Outputs, Func<Tensor> Jacobian) ForwardCopies(ForwardPass forward, long copies)
    {
        var theta = State.Theta;
        var rows = theta.detach().unsqueeze(0).expand(copies, theta.shape[0]).clone().requires_grad_(true);
        var outputs = forward.Copies!(rows);
        long c = outputs.shape[1];
        return (outputs.narrow(0, 0, 1), () =>
        {
            var yHat = Observation.Predict(_kind, outputs);
            var picked = yHat.gather(1, HeldScalars.Range(copies, yHat.device).unsqueeze(1)).sum();
            var grad = autograd.grad([picked], [rows], allow_unused: true)[0];
            var h = grad is null || grad.IsInvalid ? zeros_like(rows) : grad.detach();
            return copies == c ? h : cat([h, -h.sum(dim: 0, keepdim: true)]);
        });
    }

    Tensor? Cholesky(Tensor s)
    {
        long m = s.shape[0];
        double delta = _options.Jitter * Math.Max(s.trace().item<double>() / m, 1e-30);
        var eye = torch.eye(m, dtype: s.dtype, device: s.device);
        for (int attempt = 0; attempt < _options.MaxJitterAttempts; attempt++, delta *= 10)
        {
            var (l, info) = linalg.cholesky_ex(s.Plus(eye.Times(delta)), check_errors: false);
            if (info.item<int>() == 0 && l.isfinite().all().item<bool>()) return l;
        }
        return null;
    }

    /// <summary>
    /// The filter over θ widened by new classes (<see cref="IOnlineOptimizer.WithClasses"/>): θ, p, R, Σ and the guard's
    /// memory carried over exactly (<see cref="StateGrowth"/>). A bounded-P₀ warm-up still gathering examples is completed
    /// first, with the examples it holds, since they were taken with the narrower head.
    /// </summary>
    public IOnlineOptimizer WithClasses(Parameter theta, ClassGrowth growth)
    {
        if (_head is null) throw new InvalidOperationException("the filter was made without the head's place in θ: it cannot add classes");
        if (growth.Before != _head) throw new ArgumentException($"the growth starts from head {growth.Before}, the filter's is {_head}", nameof(growth));
        if (theta.dim() != 1 || theta.shape[0] != growth.SizeAfter)
            throw new ArgumentException($"the widened θ must hold {growth.SizeAfter} values", nameof(theta));
        if (_warmup.Count > 0)
        {
            using var scope = NewDisposeScope();
            CompleteWarmup().Dispose();
        }
        var state = StateGrowth.Widen(State, theta, growth, _options);
        try
        {
            return new LokoFilter(theta, _options, _kind, state, growth.After);
        }
        catch
        {
            state.Dispose();
            throw;
        }
    }

    StepOutcome Reject(Tensor predictions, double loss, string reason)
    {
        State.Rejected++;
        return new StepOutcome(predictions, loss, StepStatus.Rejected, reason);
    }

    internal static void Replace(Tensor old, Tensor updated, Action<Tensor> set)
    {
        set(updated.detach().DetachFromDisposeScope());
        old.Dispose();
    }

    internal static bool AllFinite(params Tensor[] ts) => ts.All(t => t.isfinite().all().item<bool>());

    /// <summary>I_b ⊗ R: examples in a mini-batch have independent noise with the same per-example R.</summary>
    static Tensor BlockDiagonal(Tensor r, int b) => b == 1 ? r : kron(eye(b, dtype: r.dtype, device: r.device), r);

    /// <summary>Mean of the b diagonal C×C blocks of an m×m matrix.</summary>
    static Tensor BlockMean(Tensor m, int b)
    {
        if (b == 1) return m;
        long c = m.shape[0] / b;
        var blocks = m.reshape(b, c, b, c).diagonal(0, 0, 2); // [c, c, b]
        return blocks.mean([2]);
    }

    public void Dispose()
    {
        _logit?.Dispose();
        State.Dispose();
    }
}
