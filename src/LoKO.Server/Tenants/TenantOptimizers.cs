using LoKO.Engine.Checkpoints;
using LoKO.Engine.Filter;
using LoKO.Engine.Optimizers;
using LoKO.Engine.Lora;

namespace LoKO.Server.Tenants;

/// <summary>
/// The tenant optimizers by name (<see cref="Contracts.Validation.RequestValidator.Optimizers"/>): what each builds
/// over the adapter's θ, the gradient baselines' default learning rates, and how each one's state goes into a
/// checkpoint file and comes back out of it, so that a restart, reactivation or rollback continues exactly.
/// </summary>
public static class TenantOptimizers
{
    public const string Loko = "loko";
    public const string AdamW = "adamw";
    public const string AdaGrad = "adagrad";
    public const string Sgd = "sgd";

    /// <summary>The learning rate of a gradient baseline whose tenant sets no <c>filter.learningRate</c>.</summary>
    public static double DefaultLearningRate(string optimizer) => optimizer switch
    {
        AdamW => 1e-3,
        AdaGrad => 1e-2,
        Sgd => 1e-2,
        _ => throw new ArgumentException($"optimizer '{optimizer}' has no learning rate", nameof(optimizer)),
    };

    /// <summary>A fresh optimizer over the adapter's θ (the adapter as just initialised from the tenant's seed).</summary>
    public static IOnlineOptimizer Create(TenantSettings settings, TenantAdapter adapter) => settings.Optimizer switch
    {
        Loko => new LokoFilter(adapter.Theta, settings.LokoOptions, ObservationKind.Classification, head: HeadBlock.Of(adapter.Layout)),
        AdamW => GradientOptimizer.AdamW(adapter.Theta, settings.LearningRate),
        AdaGrad => GradientOptimizer.AdaGrad(adapter.Theta, settings.LearningRate),
        Sgd => GradientOptimizer.Sgd(adapter.Theta, settings.LearningRate),
        var other => throw new InvalidOperationException($"unknown optimizer '{other}'"),
    };

    /// <summary>
    /// The optimizer as <see cref="Save"/> wrote it: θ is copied into the adapter's, and LoKO's p, R and
    /// counters or the gradient baseline's state (AdamW's step and moments, AdaGrad's step and sum of squared
    /// gradients; plain SGD has none) are restored.
    /// </summary>
    public static IOnlineOptimizer Load(TenantSettings settings, TenantAdapter adapter, Stream checkpoint)
    {
        if (settings.Optimizer == Loko)
            return new LokoFilter(adapter.Theta, settings.LokoOptions, ObservationKind.Classification, KalmanState.Load(checkpoint, adapter.Theta),
                                  HeadBlock.Of(adapter.Layout));
        var optimizer = (GradientOptimizer)Create(settings, adapter);
        try
        {
            optimizer.LoadState(checkpoint);
            return optimizer;
        }
        catch
        {
            optimizer.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Compute thread: a copy of θ, p, R and counters (loko) or of θ and the optimizer's state (gradient baselines),
    /// which encodes as the safetensors file on any thread (<see cref="StateSnapshot.Write"/>).
    /// </summary>
    public static StateSnapshot Snapshot(IOnlineOptimizer optimizer) =>
        optimizer is LokoFilter filter ? filter.State.Snapshot() : ((GradientOptimizer)optimizer).Snapshot();
}
