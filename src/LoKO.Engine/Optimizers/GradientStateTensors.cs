using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoKO.Engine.Optimizers;

/// <summary>
/// TorchSharp's per-parameter state of AdamW, AdaGrad and SGD as named tensors (PyTorch's names) and back.
/// The step counter is an int64 scalar tensor, so the whole state fits one safetensors file.
/// </summary>
static class GradientStateTensors
{
    public static Dictionary<string, Tensor> Export(OptimizerState state) => state switch
    {
        AdamW.State s => Named(("step", tensor(s.step)), ("exp_avg", s.exp_avg), ("exp_avg_sq", s.exp_avg_sq), ("max_exp_avg_sq", s.max_exp_avg_sq)),
        Adagrad.State s => Named(("step", tensor(s.step)), ("sum", s.sum)),
        SGD.State s => Named(("momentum_buffer", s.momentum_buffer)),
        _ => throw new NotSupportedException($"no named-tensor form for {state.GetType().FullName}"),
    };

    /// <summary>Copies <paramref name="saved"/> into <paramref name="state"/>; <paramref name="theta"/> gives device and dtype.</summary>
    public static void Import(OptimizerState state, IReadOnlyDictionary<string, Tensor> saved, Tensor theta)
    {
        using var _ = no_grad();
        switch (state)
        {
            case AdamW.State s:
                s.step = StepOf(saved);
                CopyInto(s.exp_avg, saved, "exp_avg");
                CopyInto(s.exp_avg_sq, saved, "exp_avg_sq");
                if (s.max_exp_avg_sq is not null) CopyInto(s.max_exp_avg_sq, saved, "max_exp_avg_sq");
                break;
            case Adagrad.State s:
                s.step = StepOf(saved);
                CopyInto(s.sum, saved, "sum");
                break;
            case SGD.State s:
                // The buffer exists only once a step with momentum has made one.
                if (saved.TryGetValue("momentum_buffer", out var buffer))
                {
                    s.momentum_buffer?.Dispose();
                    s.momentum_buffer = buffer.to(theta.dtype, theta.device).clone().DetachFromDisposeScope();
                }
                break;
            default:
                throw new NotSupportedException($"no named-tensor form for {state.GetType().FullName}");
        }
    }

    static Dictionary<string, Tensor> Named(params (string Name, Tensor? Value)[] entries) =>
        entries.Where(e => e.Value is not null).ToDictionary(e => e.Name, e => e.Value!.detach());

    static long StepOf(IReadOnlyDictionary<string, Tensor> saved) => Required(saved, "step").item<long>();

    static void CopyInto(Tensor target, IReadOnlyDictionary<string, Tensor> saved, string name)
    {
        var source = Required(saved, name);
        if (!source.shape.SequenceEqual(target.shape))
            throw new InvalidDataException($"saved optimizer tensor '{name}' has shape [{string.Join(",", source.shape)}], expected [{string.Join(",", target.shape)}]");
        target.copy_(source);
    }

    static Tensor Required(IReadOnlyDictionary<string, Tensor> saved, string name) =>
        saved.TryGetValue(name, out var t) ? t : throw new InvalidDataException($"the saved optimizer state has no '{name}'");
}
