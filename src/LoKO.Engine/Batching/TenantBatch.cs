using LoKO.Engine.Lora;
using LoKO.Engine.Models;
using LoKO.Engine.Onnx;
using LoKO.Engine.Optimizers;
using static TorchSharp.torch;

namespace LoKO.Engine.Batching;

/// <summary>
/// One learning step for each of several tenants of one base model. Steps that can share passes
/// (<see cref="ISharedPassOptimizer"/>) of adapters with the same LoRA sites, rank and scale run as ONE forward
/// through the shared base — row k of the batch is tenant k's example, read through tenant k's θ — and ONE reverse
/// pass of Σ_k ⟨cotangent_k, outputs_k⟩, which gives each θ the gradient of its own term alone (texts of very
/// different lengths run as several forwards of similar lengths, <see cref="SimilarLengths"/>, under the same one
/// reverse pass); each optimizer then applies its own algebra to its own state. Every other step (the paper's filter, Jacobian observations, a lone
/// member of a group) runs on its own, as <see cref="IOnlineOptimizer.Step"/>. Either way each tenant ends where its
/// own step would have left it, up to float rounding; only throughput changes.
/// </summary>
public static class TenantBatch
{
    /// <summary>
    /// Runs one step per entry of <paramref name="steps"/> (each adapter at most once: a tenant's steps run in order,
    /// one per batch). Results are in the order of the steps; their predictions belong to the caller's dispose scope.
    /// An example that cannot be encoded or run fails its own step only: its group then runs step by step.
    /// <paramref name="slack"/> is the padding a text pass may compute (<see cref="SimilarLengths.Passes"/>).
    /// </summary>
    public static IReadOnlyList<TenantStepResult> Step(BaseModel model, IReadOnlyList<TenantStep> steps, double slack = SimilarLengths.Slack)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(steps);
        ArgumentOutOfRangeException.ThrowIfNegative(slack);
        Validate(model, steps);
        var results = new TenantStepResult[steps.Count];
        using (NewDisposeScope())
        {
            var alone = new List<int>();
            var groups = new Dictionary<string, List<int>>();
            for (int i = 0; i < steps.Count; i++)
            {
                if (!Shares(steps[i])) alone.Add(i);
                else if (groups.TryGetValue(GroupKey(steps[i].Adapter.Layout), out var group)) group.Add(i);
                else groups[GroupKey(steps[i].Adapter.Layout)] = [i];
            }
            foreach (var group in groups.Values)
                if (group.Count == 1 || !TryShared(model, steps, group, results, slack)) alone.AddRange(group);
            foreach (int i in alone) results[i] = Alone(model, steps[i]);
            foreach (var r in results) r.Outcome?.Predictions.MoveToOuterDisposeScope();
        }
        return results;
    }

    static void Validate(BaseModel model, IReadOnlyList<TenantStep> steps)
    {
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < steps.Count; i++)
        {
            var step = steps[i] ?? throw new ArgumentException($"steps[{i}] is missing", nameof(steps));
            if (!seen.Add(step.Adapter.Theta))
                throw new ArgumentException($"steps[{i}]: its adapter has another step in this batch; a tenant's steps run in order, one per batch", nameof(steps));
            if (step.Adapter.Layout.Sites.Any(s => s.Node.Index >= model.Graph.Nodes.Count || !ReferenceEquals(model.Graph.Nodes[s.Node.Index], s.Node)))
                throw new ArgumentException($"steps[{i}]: its adapter belongs to another base model than {model.Name}", nameof(steps));
        }
    }

    static bool Shares(TenantStep step) =>
        step.Optimizer is ISharedPassOptimizer shared && AdapterCopies.Supports(step.Adapter.Layout) && shared.SharesPass(step.Targets);

    /// <summary>Adapters whose LoRA blocks have the same layout, whatever their heads: they share one forward.</summary>
    static string GroupKey(AdapterLayout layout) =>
        FormattableString.Invariant($"{layout.Rank}|{layout.Scale:R}|{layout.FeatureDim}|{string.Join(',', layout.Sites.Select(s => s.Node.Index))}");

    static TenantStepResult Alone(BaseModel model, TenantStep step)
    {
        try
        {
            // The pass encodes from the managed input on each call: a deferred step may run it again later.
            return new(step.Optimizer.Step(model.Pass([step.Input], step.Adapter), step.Targets), null, false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new(null, e, false);
        }
    }

    /// <summary>The group's steps through one forward and one reverse pass; false, with nothing changed, when its examples cannot run together.</summary>
    static bool TryShared(BaseModel model, IReadOnlyList<TenantStep> steps, List<int> group, TenantStepResult[] results, double slack)
    {
        var reference = steps[group[0]].Adapter;
        var features = new Tensor[group.Count];
        try
        {
            var inputs = group.Select(i => steps[i].Input).ToList();
            // Encoding the whole group checks every example and gives the token lengths the passes are planned by.
            var all = model.Encode(inputs);
            IReadOnlyList<int[]> passes = all.TokenMask is { } mask
                ? SimilarLengths.Passes(mask.sum(1).data<long>().ToArray(), slack)
                : [];
            // One pass runs the group's own encoding, whose rows are in the group's order, not in ascending length.
            if (passes.Count <= 1) passes = [Enumerable.Range(0, group.Count).ToArray()];
            long lora = reference.Layout.HeadWeight.Offset;
            foreach (var pass in passes)
            {
                var encoded = passes.Count == 1 ? all : model.Encode([.. pass.Select(j => inputs[j])]);
                // Rows are views of each tenant's own θ, so the reverse pass lands on each θ directly.
                var rows = stack([.. pass.Select(j => steps[group[j]].Adapter.Theta.narrow(0, 0, lora))]);
                var passFeatures = model.FeatureRows(encoded, reference, rows);
                for (int p = 0; p < pass.Length; p++) features[pass[p]] = passFeatures.narrow(0, p, 1);
            }
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or OnnxModelException)
        {
            return false;
        }

        var begun = new SharedStep?[group.Count];
        for (int k = 0; k < group.Count; k++)
        {
            var step = steps[group[k]];
            var row = features[k];
            try
            {
                begun[k] = ((ISharedPassOptimizer)step.Optimizer).Begin(new SharedRow(row, () => step.Adapter.Head(row)), step.Targets);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                results[group[k]] = new(null, e, true);
            }
        }

        var gradients = Backward(steps, group, begun);
        for (int k = 0; k < group.Count; k++)
        {
            if (begun[k] is not { } step) continue;
            try
            {
                // Each tenant's algebra in a scope of its own: 64 tenants' temporaries (a head covariance each) held
                // until the batch ends cost more than the shared pass saved.
                using var scope = NewDisposeScope();
                var outcome = step.Finish(gradients[k]);
                outcome.Predictions.MoveToOuterDisposeScope();
                results[group[k]] = new(outcome, null, true);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                results[group[k]] = new(null, e, true);
            }
        }
        return true;
    }

    /// <summary>One reverse pass of Σ_k ⟨cotangent_k, outputs_k⟩: entry k is ∂⟨cotangent_k, outputs_k⟩/∂θ_k (null: none needed, or all zero).</summary>
    static Tensor?[] Backward(IReadOnlyList<TenantStep> steps, List<int> group, SharedStep?[] begun)
    {
        var gradients = new Tensor?[group.Count];
        var needed = Enumerable.Range(0, group.Count).Where(k => begun[k]?.Outputs is not null).ToList();
        if (needed.Count == 0) return gradients;
        var total = stack([.. needed.Select(k => (begun[k]!.Outputs! * begun[k]!.Cotangent!).sum())]).sum();
        var thetas = needed.Select(k => (Tensor)steps[group[k]].Adapter.Theta).ToArray();
        var grads = autograd.grad([total], thetas, allow_unused: true);
        for (int j = 0; j < needed.Count; j++)
            gradients[needed[j]] = grads[j] is { IsInvalid: false } g ? g : null;
        return gradients;
    }
}
