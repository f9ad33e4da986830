using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoKO.Engine.Optimizers;

/// <summary>
/// A gradient baseline (AdamW, AdaGrad, SGD) over the same θ and loss: cross-entropy for
/// classification, squared error for regression. One step per (mini-batch of) example(s).
/// </summary>
public sealed class GradientOptimizer : IOnlineOptimizer
{
    readonly Parameter _theta;
    readonly optim.Optimizer _optimizer;
    readonly ObservationKind _kind;

    GradientOptimizer(string name, Parameter theta, optim.Optimizer optimizer, ObservationKind kind)
    {
        Name = name;
        _theta = theta;
        _optimizer = optimizer;
        _kind = kind;
    }

    public static GradientOptimizer AdamW(Parameter theta, double lr, ObservationKind kind = ObservationKind.Classification, double weightDecay = 0.01) =>
        new("adamw", theta, optim.AdamW([theta], lr, weight_decay: weightDecay), kind);

    public static GradientOptimizer AdaGrad(Parameter theta, double lr, ObservationKind kind = ObservationKind.Classification) =>
        new("adagrad", theta, optim.Adagrad([theta], lr), kind);

    public static GradientOptimizer Sgd(Parameter theta, double lr, ObservationKind kind = ObservationKind.Classification) =>
        new("sgd", theta, optim.SGD([theta], lr), kind);

    public string Name { get; }

    public StepOutcome Step(Func<Tensor> forward, Tensor targets) => Step(new ForwardPass(forward), targets);

    public StepOutcome Step(ForwardPass forward, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var outputs = forward.Forward();
        var predictions = Observation.Predict(_kind, outputs).detach().cpu().MoveToOuterDisposeScope();
        var loss = Observation.Loss(_kind, outputs, targets);
        double lossValue = loss.ToDouble();
        if (!double.IsFinite(lossValue))
            return new StepOutcome(predictions, lossValue, StepStatus.Rejected, "the loss is not finite (non-finite input or state)");
        _optimizer.zero_grad();
        loss.backward();
        if (_theta.grad is not { } grad || !grad.isfinite().all().item<bool>())
        {
            _optimizer.zero_grad();
            return new StepOutcome(predictions, lossValue, StepStatus.Rejected, "the gradient is not finite");
        }
        _optimizer.step();
        return new StepOutcome(predictions, lossValue, StepStatus.Applied);
    }

    public void Dispose() => _optimizer.Dispose();
}
