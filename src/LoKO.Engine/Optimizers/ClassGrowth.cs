using LoKO.Engine.Filter;
using LoKO.Engine.Platform;
using TorchSharp;
using static TorchSharp.torch;

namespace LoKO.Engine.Optimizers;

/// <summary>
/// New classes added to a live head: <see cref="Added"/> rows appended to W and entries to b. The head sits at the end
/// of θ (W then b), so a vector in θ's layout widens by inserting the new rows after W's and the new biases after b's:
/// every old entry keeps its value and its place relative to its piece, and the old classes' logits are unchanged.
/// </summary>
public sealed class ClassGrowth
{
    public ClassGrowth(HeadBlock before, int added)
    {
        if (added < 1) throw new ArgumentOutOfRangeException(nameof(added), added, "at least one class must be added");
        if (before.BiasOffset != before.WeightOffset + before.Classes * before.Features)
            throw new ArgumentException("the head's bias must follow its weight in θ", nameof(before));
        Before = before;
        Added = added;
        After = before with { Classes = before.Classes + added, BiasOffset = before.WeightOffset + (before.Classes + added) * before.Features };
    }

    public HeadBlock Before { get; }
    public HeadBlock After { get; }
    public int Added { get; }

    /// <summary>n before, n after: the head is θ's last piece.</summary>
    public long SizeBefore => Before.BiasOffset + Before.Classes;
    public long SizeAfter => After.BiasOffset + After.Classes;
    long NewWeights => Added * Before.Features;

    /// <summary>A vector [n] widened to [n′]: the new rows' weights [Added·d] and biases [Added] put in place.</summary>
    public Tensor Widen(Tensor before, Tensor newWeights, Tensor newBias)
    {
        if (before.dim() != 1 || before.shape[0] != SizeBefore)
            throw new ArgumentException($"expected a vector of {SizeBefore} values in θ's layout, got [{string.Join(",", before.shape)}]", nameof(before));
        if (newWeights.numel() != NewWeights || newBias.numel() != Added)
            throw new ArgumentException($"the new rows need {NewWeights} weights and {Added} biases");
        var b = before.detach();
        return cat([b.narrow(0, 0, Before.BiasOffset), newWeights.reshape(-1).to(b.dtype, b.device),
                    b.narrow(0, Before.BiasOffset, Before.Classes), newBias.reshape(-1).to(b.dtype, b.device)]);
    }

    /// <summary>A vector widened with <paramref name="fill"/> in every new entry.</summary>
    public Tensor Widen(Tensor before, double fill)
    {
        using var value = fill.ToScalar();
        return Widen(before, full(NewWeights, value, dtype: before.dtype, device: before.device), full(Added, value, dtype: before.dtype, device: before.device));
    }

    /// <summary>The new rows' entries of a widened vector: weights [Added·d] and biases [Added] (views).</summary>
    public (Tensor Weights, Tensor Bias) NewEntries(Tensor after) =>
        (after.narrow(0, Before.BiasOffset, NewWeights), after.narrow(0, After.BiasOffset + Before.Classes, Added));

    /// <summary>The C×C matrix <paramref name="before"/> widened block-diagonally, <paramref name="diagonal"/>·I on the new classes.</summary>
    public Tensor WidenSquare(Tensor before, double diagonal)
    {
        long c = After.Classes;
        var after = zeros(c, c, dtype: before.dtype, device: before.device);
        after.narrow(0, 0, Before.Classes).narrow(1, 0, Before.Classes).copy_(before);
        after.narrow(0, Before.Classes, Added).narrow(1, Before.Classes, Added).copy_(eye(Added, dtype: before.dtype, device: before.device).Times(diagonal));
        return after;
    }
}
