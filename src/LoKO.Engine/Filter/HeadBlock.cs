using LoKO.Engine.Lora;
using LoKO.Engine.Platform;
using static TorchSharp.torch;

namespace LoKO.Engine.Filter;

/// <summary>
/// Where the linear task head z = W·φ + b sits inside θ: W [Classes, Features] from <see cref="WeightOffset"/>,
/// b [Classes] from <see cref="BiasOffset"/>. The logit observation computes z from the pooled features itself,
/// so the head can be its own covariance block (<see cref="HeadCovariance.Shared"/>).
/// </summary>
public sealed record HeadBlock(long WeightOffset, long BiasOffset, int Classes, long Features)
{
    public static HeadBlock Of(AdapterLayout layout) =>
        new(layout.HeadWeight.Offset, layout.HeadBias.Offset, layout.Outputs, layout.FeatureDim);

    Tensor Weight(Tensor theta) => theta.narrow(-1, WeightOffset, Classes * Features);

    /// <summary>z [b, C] from features φ [b, d] and θ [n].</summary>
    public Tensor Logits(Tensor theta, Tensor features) =>
        nn.functional.linear(features, Weight(theta).view(Classes, Features), theta.narrow(0, BiasOffset, Classes));

    /// <summary>z [K, C] of K copies: copy k with its head in row k of <paramref name="rows"/> [K, n], features [K, d].</summary>
    public Tensor LogitCopies(Tensor rows, Tensor features)
    {
        long k = rows.shape[0];
        var w = Weight(rows).view(k, Classes, Features);
        return bmm(w, features.unsqueeze(2)).squeeze(2).Plus(rows.narrow(1, BiasOffset, Classes));
    }

    /// <summary>1 on every θ entry outside the head, 0 on the head's: the diagonal block when the head has its own.</summary>
    public Tensor OutsideMask(Tensor theta)
    {
        var mask = ones_like(theta);
        mask.narrow(0, WeightOffset, Classes * Features).zero_();
        mask.narrow(0, BiasOffset, Classes).zero_();
        return mask;
    }

    /// <summary>Adds ΔW̃ = u·aᵀ to the head in θ, with a = Σ·[φ; 1] [d + 1] and u [C].</summary>
    public void Add(Tensor theta, Tensor u, Tensor a)
    {
        var delta = u.unsqueeze(1) * a.unsqueeze(0); // [C, d + 1]
        theta.narrow(0, WeightOffset, Classes * Features).PlusInPlace(delta.narrow(1, 0, Features).reshape(-1));
        theta.narrow(0, BiasOffset, Classes).PlusInPlace(delta.select(1, Features));
    }
}
