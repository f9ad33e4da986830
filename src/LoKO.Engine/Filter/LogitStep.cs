using LoKO.Engine.Optimizers;
using LoKO.Engine.Platform;
using TorchSharp;
using static TorchSharp.torch;

namespace LoKO.Engine.Filter;

/// <summary>
/// One step of the filter under the logit observation (<see cref="ObservationSpace.Logits"/>), one example at a
/// time. The numbered steps are LOKO-ALGORITHM.md's, with the logit observation of <see cref="LogitObservation"/>;
/// the head is either part of the diagonal block or its own block (<see cref="SharedHeadCovariance"/>), and the
/// diagonal block observes the C rows of J or only g = Jᵀe (<see cref="DiagonalCovariance"/>). n-sized work runs in
/// θ's precision, C×C and (d + 1)-sized work in float64.
/// </summary>
sealed class LogitStep : IDisposable
{
    readonly LokoOptions _o;
    readonly KalmanState _s;
    readonly HeadBlock _head;
    readonly bool _shared;
    /// <summary>1 on the diagonal block's entries of θ, 0 on a shared head's.</summary>
    readonly Tensor _mask;

    public LogitStep(LokoOptions options, KalmanState state, HeadBlock head)
    {
        _o = options;
        _s = state;
        _head = head;
        _shared = options.Head == HeadCovariance.Shared;
        _mask = (_shared ? head.OutsideMask(state.Theta.detach()) : ones_like(state.Theta)).detach().DetachFromDisposeScope();
    }

    /// <summary>
    /// The step's outcome (predictions made before learning, in the current dispose scope), and whether it was applied.
    /// </summary>
    /// <param name="initialised">Called once the priors exist, before the first update (the guard's first good state).</param>
    public StepOutcome Step(ForwardPass forward, Tensor targets, Func<Tensor, double, string, StepOutcome> reject, Action? initialised)
    {
        CheckTargets(targets);
        if (forward.Features is null) throw new ArgumentException("the logit observation needs the pass's features (ForwardPass.Features)", nameof(forward));
        var theta = _s.Theta;
        int c = _head.Classes;
        bool jacobian = _o.DiagonalObservation == DiagonalObservation.Jacobian;

        // 2. forward: z = W·φ + b, ŷ = softmax(z) — the prequential prediction. Copies: row k of a [C, n] leaf feeds copy k.
        Tensor features, z;
        Tensor? rows = null, zCopies = null;
        if (jacobian && forward.FeatureCopies is not null)
        {
            rows = theta.detach().unsqueeze(0).expand(c, theta.shape[0]).clone().requires_grad_(true);
            var copies = forward.FeatureCopies(rows);
            zCopies = _head.LogitCopies(rows, copies);
            (features, z) = (copies.narrow(0, 0, 1), zCopies.narrow(0, 0, 1));
        }
        else
        {
            features = forward.Features();
            z = _head.Logits(theta, features);
        }
        var observed = Observe(features, z, targets);
        if (observed.Rejection is { } why) return reject(observed.Predictions, observed.Loss, why);

        // 3. the diagonal block observes J = ∂z/∂θ [C, n] (C reverse passes or one per-copy run), or g = Jᵀe [n] (one pass)
        return jacobian
            ? Learn(observed, Jacobian(z, zCopies, rows), null, reject, initialised)
            : Learn(observed, null, Gradient(z, observed.E!), reject, initialised);
    }

    /// <summary>Whether a step's reverse pass can be one the caller runs for many tenants: the gradient observation's g = Jᵀe.</summary>
    public bool SharesPass => _o.DiagonalObservation == DiagonalObservation.Gradient;

    /// <summary>
    /// Steps 2 and 4 on the features of a shared forward; the caller backpropagates ⟨e, z⟩ (g = Jᵀe, as <see cref="Gradient"/>
    /// computes it alone) and the returned step finishes from there exactly as <see cref="Step"/> would.
    /// </summary>
    public SharedStep Begin(Tensor features, Tensor targets, Func<Tensor, double, string, StepOutcome> reject, Action? initialised)
    {
        CheckTargets(targets);
        if (!SharesPass) throw new InvalidOperationException("the Jacobian observation needs C reverse passes of its own");
        var z = _head.Logits(_s.Theta, features);
        var observed = Observe(features, z, targets);
        if (observed.Rejection is { } why) return SharedStep.Done(reject(observed.Predictions, observed.Loss, why));
        return new SharedStep(z, observed.E!.to(z.dtype).unsqueeze(0),
            g => Learn(observed, null, g?.detach() ?? zeros_like(_s.Theta), reject, initialised));
    }

    static void CheckTargets(Tensor targets)
    {
        if (targets.shape[0] != 1) throw new ArgumentException("the logit observation learns one example per step", nameof(targets));
    }

    /// <summary>Steps 2 and 4 of one example: what the forward showed and the innovation.</summary>
    sealed record Observed(Tensor Features, Tensor Predictions, double Loss, string? Rejection, Tensor? E, Tensor? Lambda);

    Observed Observe(Tensor features, Tensor z, Tensor targets)
    {
        var yHatBatch = z.softmax(1);
        var predictions = yHatBatch.detach().cpu();
        double loss;
        using (no_grad()) loss = nn.functional.cross_entropy(z.detach(), targets.to(ScalarType.Int64).to(z.device)).Value();
        if (!yHatBatch.isfinite().all().item<bool>())
            return new(features, predictions, loss, "the prediction is not finite (non-finite input or state)", null, null);

        // 4. innovation: e = y − ŷ, and Λ = diag(ŷ) − ŷŷᵀ
        var yHat = yHatBatch.detach()[0].to(ScalarType.Float64);
        var y = Observation.Target(ObservationKind.Classification, targets, yHatBatch)[0].to(ScalarType.Float64);
        var e = y - yHat;
        return new(features, predictions, loss, null, e, LogitObservation.Lambda(yHat, _o.LambdaFloor));
    }

    /// <summary>Steps 1 and 5–10 from the observed example and its J or g (the diagonal block's part is taken here).</summary>
    StepOutcome Learn(Observed observed, Tensor? j, Tensor? g, Func<Tensor, double, string, StepOutcome> reject, Action? initialised)
    {
        var (features, predictions, loss, e, lambda) = (observed.Features, observed.Predictions, observed.Loss, observed.E!, observed.Lambda!);
        var theta = _s.Theta;
        int c = _head.Classes;
        bool jacobian = j is not null;
        j = j is null ? null : j * _mask;
        g = g is null ? null : g * _mask;
        if (!(j ?? g)!.isfinite().all().item<bool>()) return reject(predictions, loss, "the Jacobian is not finite");

        var phi = _shared ? SharedHeadCovariance.Augment(features.detach()[0].to(ScalarType.Float64)) : null;
        bool first = _s.P is null;
        InitialiseIfNeeded(j, g, e, phi);
        if (first) initialised?.Invoke();

        // 1. predict: p ← γ²·p + (1 − γ²)·p₀, Σ ← γ_h²·Σ + (1 − γ_h²)·Σ₀ (new tensors: a rejected step keeps the old)
        var p = DiagonalCovariance.Revert(_s.P!, _mask.Times(_s.PriorScale), _o.Reversion);
        var sigma = _shared ? RevertSigma(_s.Sigma!, _o.HeadReversion) : null;
        double tau = _s.R![0, 0].Value();

        // 5. V = J·P·Jᵀ (+ s·I from a shared head, s = φ̃ᵀ·Σ·φ̃): the logits' prior covariance [C, C]
        //    (gradient observation: V ≈ ρ·I, ρ = gᵀ·P·g / eᵀe, the logit variance along e)
        var eye = torch.eye(c, dtype: ScalarType.Float64, device: e.device);
        //    (posterior mean: the diagonal block steps on its own, outside the joint innovation: V = 0 from it)
        var v = j is not null
            ? matmul(j * p, j.t()).to(ScalarType.Float64)
            : _o.DiagonalMean == DiagonalMean.Posterior
                ? zeros_like(eye)
                : eye.Times((p * g!).dot(g!).Value() / Math.Max(e.dot(e).Value(), 1e-30));
        Tensor? a = null;
        double s = 0;
        if (sigma is not null)
        {
            a = sigma.mv(phi!);
            s = phi!.dot(a).Value();
            v = v.Plus(eye.Times(s));
        }

        // 6. S = Λ·V·Λ + τ·Λ; robust weighting R ← R / w, w = c² / (c² + eᵀS⁻¹e)
        double nis = LogitObservation.NormalisedInnovation(lambda, v, e, tau);
        double w = LogitObservation.RobustWeight(nis, _o.RobustScale);
        double tauStep = tau / w;
        // 7. K·e = P·Jᵀ·u with u = (τI + Λ·V)⁻¹·e; K is never formed
        var u = LogitObservation.Weighted(lambda, v, e, tauStep);

        // 9. the covariances absorb the example
        var pNew = (jacobian, _o.DiagonalForm) switch
        {
            (true, DiagonalForm.Covariance) => DiagonalCovariance.CovarianceForm(p, j!, LogitObservation.Gain(lambda, v, tauStep)),
            (true, DiagonalForm.Precision) => DiagonalCovariance.PrecisionForm(p, j!, lambda, tauStep),
            (false, DiagonalForm.Covariance) => DiagonalCovariance.GradientCovarianceForm(p, g!, tauStep),
            (false, DiagonalForm.Precision) => DiagonalCovariance.GradientPrecisionForm(p, g!, tauStep),
            (false, DiagonalForm.RootPrecision) => DiagonalCovariance.GradientRootPrecisionForm(p, g!, _o.RootScale),
            _ => throw new NotSupportedException("the root-precision form needs the gradient observation (LokoOptions.Validate)"),
        };
        pNew = pNew.AtLeast(_o.PMin) * _mask;
        // 8. θ ← θ + K·e: the diagonal block by P·Jᵀ·u (gradient: P·g·(eᵀu / eᵀe); posterior mean: P⁺·g / τ),
        //    a shared head by u·(Σφ̃)ᵀ
        var dTheta = j is not null
            ? p * matmul(u.to(j.dtype).unsqueeze(0), j).squeeze(0)
            : _o.DiagonalMean == DiagonalMean.Posterior
                ? (pNew * g!).Over(tauStep)
                : (p * g!).Times(e.dot(u).Value() / Math.Max(e.dot(e).Value(), 1e-30));

        var sigmaNew = sigma is null ? null : SharedHeadCovariance.Update(sigma, a!, s, lambda, tauStep);
        if (!double.IsFinite(nis) || !LokoFilter.AllFinite(u, dTheta, pNew) || (sigmaNew is not null && !LokoFilter.AllFinite(sigmaNew)))
            return reject(predictions, loss, "the Kalman update is not finite");

        using (no_grad())
        {
            theta.PlusInPlace(dTheta);
            if (a is not null) _head.Add(theta, u.to(theta.dtype), a.to(theta.dtype));
        }
        LokoFilter.Replace(_s.P!, pNew, t => _s.P = t);
        if (sigmaNew is not null) LokoFilter.Replace(_s.Sigma!, sigmaNew, t => _s.Sigma = t);

        // 10. noise: τ ← β_τ·τ + (1 − β_τ)·τ·eᵀS⁻¹e/(C − 1) (moment matching; one example's ratio capped at 10)
        if (_o.TemperatureBeta > 0)
        {
            double ratio = Math.Min(nis / Math.Max(c - 1, 1), 10);
            double beta = 1 - (1 - _o.TemperatureBeta) * _s.NoiseAdaptation;
            _s.R.TimesInPlace(beta + (1 - beta) * ratio);
        }
        _s.Applied++;
        return new StepOutcome(predictions, loss, StepStatus.Applied,
            InnovationNorm: e.norm().Value(),
            // eᵀu ≤ ‖e‖²/τ: bounded, unlike eᵀS⁻¹e, which a single confident error can make huge
            NormalisedInnovation: e.dot(u).Value() / c,
            NoiseTrace: _s.R.trace().Value(),
            MeanCovariance: pNew.sum().Value() / Math.Max(_mask.sum().Value(), 1));
    }

    /// <summary>J [C, n]: one reverse pass of Σ_k z_k(copy k) over per-copy rows, else C passes over one retained graph.</summary>
    Tensor Jacobian(Tensor z, Tensor? zCopies, Tensor? rows)
    {
        var theta = _s.Theta;
        if (zCopies is not null)
        {
            var picked = zCopies.gather(1, HeldScalars.Range(zCopies.shape[0], zCopies.device).unsqueeze(1)).sum();
            var grad = autograd.grad([picked], [rows!], allow_unused: true)[0];
            return grad is null || grad.IsInvalid ? zeros_like(rows!) : grad.detach();
        }
        long c = z.shape[1];
        var result = new Tensor[c];
        for (long k = 0; k < c; k++)
        {
            var grad = autograd.grad([z[0, k]], [theta], retain_graph: k < c - 1, allow_unused: true)[0];
            result[k] = grad is null || grad.IsInvalid ? zeros_like(theta) : grad;
        }
        return stack(result).detach();
    }

    /// <summary>g = Jᵀ·e = −∂(cross-entropy)/∂θ: one reverse pass.</summary>
    Tensor Gradient(Tensor z, Tensor e)
    {
        var grad = autograd.grad([(z[0] * e.to(z.dtype)).sum()], [_s.Theta], allow_unused: true)[0];
        return grad is null || grad.IsInvalid ? zeros_like(_s.Theta) : grad.detach();
    }

    /// <summary>
    /// Priors in logit units. Σ₀ = v_h/‖φ̃‖²·I at the first example. p₀ = c on the diagonal block, c chosen so each
    /// logit's prior variance from that block is v_d: c = v_d / mean(‖J‖²_F / C) (gradient: v_d / mean(‖g‖² / ‖e‖²)),
    /// the mean over the first <see cref="LokoOptions.PriorExamples"/> examples, p rescaled with c until then.
    /// </summary>
    void InitialiseIfNeeded(Tensor? j, Tensor? g, Tensor e, Tensor? phi)
    {
        int c = _head.Classes;
        if (_s.R is null)
            _s.R = torch.eye(c, dtype: ScalarType.Float64, device: _s.Theta.device).Times(_o.Temperature).DetachFromDisposeScope();
        if (phi is not null && _s.Sigma is null)
        {
            _s.HeadPriorScale = SharedHeadCovariance.PriorScale(phi, _o.HeadPriorVariance);
            _s.Sigma = torch.eye(phi.shape[0], dtype: ScalarType.Float64, device: phi.device).Times(_s.HeadPriorScale).DetachFromDisposeScope();
        }
        if (_s.P is not null && (_o.P0 == InitialCovariance.Constant || _s.PriorSeen >= _o.PriorExamples)) return;

        double measured = j is not null
            ? j.Squared().sum().Value() / c
            : g!.Squared().sum().Value() / Math.Max(e.dot(e).Value(), 1e-30);
        double scale = _o.P0Constant;
        if (_o.P0 != InitialCovariance.Constant && measured > 0 && double.IsFinite(measured))
        {
            _s.PriorSum += measured;
            _s.PriorSeen++;
            scale = _o.DiagonalPriorVariance / (_s.PriorSum / _s.PriorSeen);
        }
        else if (_s.P is not null) return;
        if (_s.P is null) _s.P = _mask.Times(scale).DetachFromDisposeScope();
        else _s.P.TimesInPlace(scale / _s.PriorScale);
        _s.PriorScale = scale;
    }

    /// <summary>The mask lives outside every dispose scope, as long as the filter.</summary>
    public void Dispose() => _mask.Dispose();

    Tensor RevertSigma(Tensor sigma, double gamma) => gamma == 1
        ? sigma
        : sigma.Times(gamma * gamma).Plus(torch.eye(sigma.shape[0], dtype: sigma.dtype, device: sigma.device).Times((1 - gamma * gamma) * _s.HeadPriorScale));
}
