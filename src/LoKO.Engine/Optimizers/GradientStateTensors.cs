using static TorchSharp.torch;

namespace LoKO.Engine.Optimizers;

/// <summary>
/// The saved form of the baselines' state (<see cref="IGradientStep"/>): PyTorch's names, and the step counter as an
/// int64 scalar tensor, so that the whole state fits one safetensors file next to θ.
/// </summary>
static class GradientStateTensors
{
    public const string Step = "step";

    public static Tensor Counter(long step) => tensor(step);

    public static long CounterOf(IReadOnlyDictionary<string, Tensor> saved) => Required(saved, Step).item<long>();

    /// <summary>target ← saved[name], converted to target's dtype and device; the shapes must agree.</summary>
    public static void CopyInto(Tensor target, IReadOnlyDictionary<string, Tensor> saved, string name)
    {
        var source = Required(saved, name);
        if (!source.shape.SequenceEqual(target.shape))
            throw new InvalidDataException($"saved optimizer tensor '{name}' has shape [{string.Join(",", source.shape)}], expected [{string.Join(",", target.shape)}]");
        using var _ = no_grad();
        target.copy_(source);
    }

    static Tensor Required(IReadOnlyDictionary<string, Tensor> saved, string name) =>
        saved.TryGetValue(name, out var t) ? t : throw new InvalidDataException($"the saved optimizer state has no '{name}'");
}
