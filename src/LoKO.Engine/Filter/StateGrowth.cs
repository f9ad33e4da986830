using LoKO.Engine.Optimizers;
using LoKO.Engine.Platform;
using TorchSharp;
using static TorchSharp.torch;

namespace LoKO.Engine.Filter;

/// <summary>
/// The filter's state widened by new classes (<see cref="ClassGrowth"/>): every old entry of θ, p, R and the guard's
/// best state is copied bit for bit; a new entry starts as it would have at the first example. p: the prior of the
/// block it falls in (a shared head's rows are outside the diagonal block, 0; the logit observation's diagonal p₀;
/// the paper's p₀ of the same head column). R: R₀ on the new classes (the logit observation's R = τ·I: τ). A shared
/// head's Σ is shared by every class (I_C ⊗ Σ): it holds what the features seen so far say about any row, and the new
/// rows take it as it is.
/// </summary>
static class StateGrowth
{
    /// <summary>The mean of p over the head's rows, per column: [d + 1], each feature's weights then the bias.</summary>
    public static Tensor HeadColumnMeans(Tensor p, HeadBlock head) => cat([
        p.narrow(0, head.WeightOffset, head.Classes * head.Features).view(head.Classes, head.Features).mean([0]),
        p.narrow(0, head.BiasOffset, head.Classes).mean().unsqueeze(0)]);

    public static KalmanState Widen(KalmanState s, Tensor theta, ClassGrowth growth, LokoOptions o)
    {
        using var scope = NewDisposeScope();
        var (newWeights, newBias) = growth.NewEntries(theta.detach());
        Tensor WidenTheta(Tensor t) => growth.Widen(t, newWeights, newBias);
        Tensor WidenP(Tensor p)
        {
            var (w, b) = Prior(s, p, growth, o);
            return growth.Widen(p, w, b);
        }
        Tensor WidenR(Tensor r) => growth.WidenSquare(r, o.Observation == ObservationSpace.Logits ? r[0, 0].Value() : o.R0);

        var state = new KalmanState(theta)
        {
            P = Keep(s.P, WidenP),
            R = Keep(s.R, WidenR),
            Sigma = Keep(s.Sigma, t => t.clone()),
            HeadPrior = Keep(s.HeadPrior, t => t.clone()),
            WarmupSquaredGradients = Keep(s.WarmupSquaredGradients, g => growth.Widen(g, 0)),
            WarmupSeen = s.WarmupSeen,
            Steps = s.Steps,
            Applied = s.Applied,
            Rejected = s.Rejected,
            GuardEvents = s.GuardEvents,
            NoiseAdaptation = s.NoiseAdaptation,
            PriorScale = s.PriorScale,
            HeadPriorScale = s.HeadPriorScale,
            PriorSum = s.PriorSum,
            PriorSeen = s.PriorSeen,
        };
        state.Guard = s.Guard.Widen(t => Keep(t, WidenTheta), t => Keep(t, WidenP), t => Keep(t, WidenR), t => Keep(t, x => x.clone()));
        return state;
    }

    /// <summary>The new rows' p: weights [Added·d] and biases [Added].</summary>
    static (Tensor Weights, Tensor Bias) Prior(KalmanState s, Tensor p, ClassGrowth growth, LokoOptions o)
    {
        long d = growth.Before.Features;
        int k = growth.Added;
        (Tensor, Tensor) Constant(double v)
        {
            using var value = v.ToScalar();
            return (full(k * d, value, dtype: p.dtype, device: p.device), full(k, value, dtype: p.dtype, device: p.device));
        }
        if (o.Observation == ObservationSpace.Logits)
            return Constant(o.Head == HeadCovariance.Shared ? 0 : s.PriorScale);
        // The paper's p₀ is per entry (auto-normalised, bounded): a new row takes the mean prior of its column. A state
        // saved before the head's prior was kept falls back to the constant p₀, or to the column's largest p (p only
        // shrinks from its prior), the value nearest to one that has not been observed.
        var columns = s.HeadPrior?.to(p.dtype, p.device)
                      ?? (o.P0 == InitialCovariance.Constant ? null : ColumnMax(p, growth.Before));
        if (columns is null) return Constant(o.P0Constant);
        return (columns.narrow(0, 0, d).repeat(k), columns.narrow(0, d, 1).expand(k));
    }

    static Tensor ColumnMax(Tensor p, HeadBlock head) => cat([
        p.narrow(0, head.WeightOffset, head.Classes * head.Features).view(head.Classes, head.Features).amax([0]),
        p.narrow(0, head.BiasOffset, head.Classes).max().unsqueeze(0)]);

    static Tensor? Keep(Tensor? t, Func<Tensor, Tensor> widen) => t is null ? null : widen(t).detach().DetachFromDisposeScope();
}
