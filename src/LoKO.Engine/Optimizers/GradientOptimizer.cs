using LoKO.Engine.Checkpoints;
using LoKO.Engine.Platform;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoKO.Engine.Optimizers;

/// <summary>
/// A gradient baseline (AdamW, AdaGrad, SGD) over the same θ and loss: cross-entropy for
/// classification, squared error for regression. One step per (mini-batch of) example(s). The update rules are the
/// project's own (<see cref="AdamWStep"/>, <see cref="AdaGradStep"/>, <see cref="SgdStep"/>): torch.optim's arithmetic
/// bit for bit, with every number held while LibTorch reads it.
/// </summary>
public sealed class GradientOptimizer : ISharedPassOptimizer
{
    readonly Parameter _theta;
    readonly IGradientStep _step;
    readonly Func<Tensor, IGradientStep> _create;
    readonly ObservationKind _kind;
    Tensor? _trainable;

    GradientOptimizer(string name, Parameter theta, Func<Tensor, IGradientStep> create, ObservationKind kind)
    {
        Name = name;
        _theta = theta;
        _create = create;
        _step = create(theta);
        _kind = kind;
    }

    public static GradientOptimizer AdamW(Parameter theta, double lr, ObservationKind kind = ObservationKind.Classification, double weightDecay = 0.01) =>
        new("adamw", theta, t => new AdamWStep(t, lr, weightDecay), kind);

    public static GradientOptimizer AdaGrad(Parameter theta, double lr, ObservationKind kind = ObservationKind.Classification) =>
        new("adagrad", theta, t => new AdaGradStep(t, lr), kind);

    public static GradientOptimizer Sgd(Parameter theta, double lr, ObservationKind kind = ObservationKind.Classification) =>
        new("sgd", theta, _ => new SgdStep(lr), kind);

    public string Name { get; }

    /// <summary>
    /// Learns only the θ entries where <paramref name="trainable"/> [n] is 1 (their gradient is masked before each
    /// step, the others restored after it), e.g. the head alone: the linear probe that shows how much the LoRA sites add.
    /// </summary>
    public GradientOptimizer OnlyWhere(Tensor trainable)
    {
        _trainable?.Dispose();
        _trainable = trainable.detach().clone().DetachFromDisposeScope();
        return this;
    }

    public StepOutcome Step(Func<Tensor> forward, Tensor targets) => Step(new ForwardPass(forward), targets);

    public StepOutcome Step(ForwardPass forward, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var outputs = forward.Forward();
        var predictions = Observation.Predict(_kind, outputs).detach().cpu().MoveToOuterDisposeScope();
        var loss = Observation.Loss(_kind, outputs, targets);
        double lossValue = loss.Value();
        if (!double.IsFinite(lossValue))
            return new StepOutcome(predictions, lossValue, StepStatus.Rejected, "the loss is not finite (non-finite input or state)");
        ZeroGrad();
        loss.backward();
        return Apply(predictions, lossValue);
    }

    /// <summary>Every step of a gradient optimizer is one reverse pass of the loss: it always shares.</summary>
    public bool SharesPass(Tensor targets) => true;

    /// <summary>The cotangent is ∂loss/∂outputs, taken on the (small) outputs alone; the shared pass carries it to θ.</summary>
    public SharedStep Begin(SharedRow row, Tensor targets)
    {
        var outputs = row.Outputs();
        var predictions = Observation.Predict(_kind, outputs).detach().cpu();
        var local = outputs.detach().requires_grad_(true);
        var loss = Observation.Loss(_kind, local, targets);
        double lossValue = loss.Value();
        if (!double.IsFinite(lossValue))
            return SharedStep.Done(new StepOutcome(predictions, lossValue, StepStatus.Rejected, "the loss is not finite (non-finite input or state)"));
        var cotangent = autograd.grad([loss], [local])[0].detach();
        return new SharedStep(outputs, cotangent, gradient =>
        {
            ZeroGrad();
            _theta.grad = gradient ?? zeros_like(_theta);
            return Apply(predictions, lossValue);
        });
    }

    /// <summary>The optimizer's step from the gradient in θ.grad, or a rejection when it is missing or not finite.</summary>
    StepOutcome Apply(Tensor predictions, double lossValue)
    {
        if (_theta.grad is not { } grad || !grad.isfinite().all().item<bool>())
        {
            ZeroGrad();
            return new StepOutcome(predictions, lossValue, StepStatus.Rejected, "the gradient is not finite");
        }
        // AdamW's weight decay moves entries whose gradient is zero: the frozen ones are put back after the step.
        using var frozen = _trainable is null ? null : _theta.detach().clone();
        if (_trainable is not null) using (no_grad()) grad.mul_(_trainable);
        using (no_grad()) _step.Apply(_theta, grad);
        if (frozen is not null) using (no_grad()) _theta.copy_((_theta.detach() * _trainable!).Plus(frozen * _trainable!.Subtracted(1)));
        return new StepOutcome(predictions, lossValue, StepStatus.Applied);
    }

    /// <summary>
    /// θ and the optimizer's state as one safetensors file: "theta", then "optimizer.&lt;name&gt;" per state tensor
    /// (PyTorch's names; AdamW: step, exp_avg, exp_avg_sq; AdaGrad: step, sum; SGD: none), so that
    /// a run loaded from it continues exactly as it would have.
    /// </summary>
    public void SaveState(Stream stream)
    {
        using var scope = NewDisposeScope();
        SafetensorsCodec.Write(stream, StateTensors(), Metadata);
    }

    /// <summary>What <see cref="SaveState"/> would write now, copied: encoded later, it is these bytes whatever the optimizer steps meanwhile.</summary>
    public StateSnapshot Snapshot()
    {
        using var scope = NewDisposeScope();
        return StateSnapshot.Of(StateTensors(), Metadata);
    }

    /// <summary>θ and the state tensors (views of the live ones; the step counter the caller's dispose scope owns).</summary>
    Dictionary<string, Tensor> StateTensors()
    {
        var tensors = new Dictionary<string, Tensor> { ["theta"] = _theta.detach() };
        foreach (var (name, t) in _step.Export()) tensors[StatePrefix + name] = t;
        return tensors;
    }

    Dictionary<string, string> Metadata => new() { ["optimizer"] = Name };

    /// <summary>
    /// Reads a file written by <see cref="SaveState"/> into θ (the adapter's own tensor) and this optimizer. A file
    /// that holds θ alone (written before optimizer state was saved) leaves the state as new.
    /// </summary>
    public void LoadState(Stream stream)
    {
        var (tensors, meta) = SafetensorsCodec.Read(stream);
        try
        {
            if (meta.TryGetValue("optimizer", out var saved) && saved != Name)
                throw new InvalidDataException($"the file holds {saved} state, not {Name}");
            var theta = tensors["theta"];
            if (!theta.shape.SequenceEqual(_theta.shape))
                throw new InvalidDataException($"saved θ has shape [{string.Join(",", theta.shape)}], the adapter's is [{string.Join(",", _theta.shape)}]");
            using (no_grad()) _theta.copy_(theta);
            var state = tensors.Where(kv => kv.Key.StartsWith(StatePrefix, StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key[StatePrefix.Length..], kv => kv.Value);
            if (state.Count > 0) _step.Import(state);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    const string StatePrefix = "optimizer.";

    /// <summary>
    /// The same optimizer (kind, learning rate) over the widened θ: step counters kept, every per-entry tensor (moments,
    /// sums) widened with zeros, as a new entry's state starts; a linear probe's mask trains the new rows as
    /// it trains the head.
    /// </summary>
    public IOnlineOptimizer WithClasses(Parameter theta, ClassGrowth growth)
    {
        using var scope = NewDisposeScope();
        if (theta.dim() != 1 || theta.shape[0] != growth.SizeAfter)
            throw new ArgumentException($"the widened θ must hold {growth.SizeAfter} values", nameof(theta));
        var grown = new GradientOptimizer(Name, theta, _create, _kind);
        try
        {
            var widened = _step.Export()
                .ToDictionary(kv => kv.Key, kv => kv.Value.dim() == 1 && kv.Value.shape[0] == growth.SizeBefore ? growth.Widen(kv.Value, 0) : kv.Value);
            grown._step.Import(widened);
            if (_trainable is not null) grown.OnlyWhere(growth.Widen(_trainable, _trainable[growth.Before.BiasOffset].Value()));
            return grown;
        }
        catch
        {
            grown.Dispose();
            throw;
        }
    }

    /// <summary>θ.grad ← 0 where it exists (as torch.optim's zero_grad without set_to_none): backward then accumulates into it.</summary>
    void ZeroGrad()
    {
        using var grad = _theta.grad;
        grad?.zero_();
    }

    public void Dispose()
    {
        _step.Dispose();
        _trainable?.Dispose();
    }
}
