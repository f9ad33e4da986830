using static TorchSharp.torch;

namespace LoKO.Engine.Optimizers;

/// <summary>
/// An optimizer whose step needs, beyond the forward, only one reverse pass of a cotangent on its head outputs
/// (a gradient, or the LoKO filter's gradient observation g = Jᵀe). Such steps of many tenants can share one
/// forward through the base and one reverse pass for all (<see cref="Batching.TenantBatch"/>): the caller runs
/// the forward, each optimizer <see cref="Begin"/>s on its row and names its cotangent, the caller backpropagates
/// Σ_k ⟨cotangent_k, outputs_k⟩ once, and each optimizer finishes with its own gradient. The result is the step
/// <see cref="IOnlineOptimizer.Step"/> would take, up to float rounding.
/// </summary>
public interface ISharedPassOptimizer : IOnlineOptimizer
{
    /// <summary>Whether a step on these targets can share passes; when not, the caller runs <see cref="IOnlineOptimizer.Step"/>.</summary>
    bool SharesPass(Tensor targets);

    /// <summary>Phase one: the prediction and the cotangent to backpropagate, from this tenant's row of a shared forward.</summary>
    SharedStep Begin(SharedRow row, Tensor targets);
}
