using LoKO.Engine.Platform;
using static TorchSharp.torch;

namespace LoKO.Engine.Optimizers;

/// <summary>The observation function h and target vector y shared by the filter and the baselines.</summary>
public static class Observation
{
    /// <summary>h(θ, x): softmax of logits for classification, the outputs themselves for regression.</summary>
    public static Tensor Predict(ObservationKind kind, Tensor outputs) =>
        kind == ObservationKind.Classification ? outputs.softmax(1) : outputs;

    /// <summary>y, shaped like the outputs: one-hot labels or regression targets.</summary>
    public static Tensor Target(ObservationKind kind, Tensor targets, Tensor outputs)
    {
        if (kind == ObservationKind.Regression) return targets.to(outputs.dtype).to(outputs.device).reshape(outputs.shape);
        long classes = outputs.shape[1];
        var labels = targets.to(ScalarType.Int64);
        if (labels.numel() > 0 && (labels.min().item<long>() < 0 || labels.max().item<long>() >= classes))
            throw new ArgumentOutOfRangeException(nameof(targets), $"labels must lie in [0, {classes})");
        return nn.functional.one_hot(labels, classes).to(outputs.dtype).to(outputs.device);
    }

    /// <summary>Cross-entropy for classification, half the summed squared error per example for regression.</summary>
    public static Tensor Loss(ObservationKind kind, Tensor outputs, Tensor targets) =>
        kind == ObservationKind.Classification
            ? nn.functional.cross_entropy(outputs, targets.to(ScalarType.Int64).to(outputs.device))
            : (outputs - targets.to(outputs.dtype).to(outputs.device).reshape(outputs.shape)).Squared().sum(dim: 1).mean().Times(0.5);
}
