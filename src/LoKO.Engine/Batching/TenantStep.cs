using LoKO.Engine.Lora;
using LoKO.Engine.Models;
using LoKO.Engine.Optimizers;
using static TorchSharp.torch;

namespace LoKO.Engine.Batching;

/// <summary>
/// One tenant's next learning step, to run in a <see cref="TenantBatch"/>: its adapter, the optimizer bound to that
/// adapter's θ, the example and its targets (as <see cref="IOnlineOptimizer.Step"/> takes them).
/// </summary>
public sealed record TenantStep(TenantAdapter Adapter, IOnlineOptimizer Optimizer, ModelInput Input, Tensor Targets);
