namespace LoKO.Engine.Optimizers;

/// <summary>What the head's outputs are observed as.</summary>
public enum ObservationKind
{
    /// <summary>h = softmax(logits), y = one-hot(label); targets are class indices (int64 [b]).</summary>
    Classification,
    /// <summary>h = outputs, y = targets (float [b, d]).</summary>
    Regression,
}
