namespace LoKO.Engine.Onnx.Fusion;

/// <summary>
/// Finds the fusable patterns among the nodes one plan runs. The graph itself is left as it is: its nodes
/// keep their objects and indices (LoRA hooks find their sites by index), and a plan may run them one by one.
/// </summary>
internal static class GraphFusion
{
    static readonly IFusionPattern[] Patterns =
        [new LayerNormFusion(), new GeluFusion(), new ConvBatchNormFusion(), new AttentionFusion(), new SharedInputLinearsFusion(), new MatMulBiasFusion()];

    /// <summary>
    /// Non-overlapping groups; <paramref name="requested"/> are the values the caller will read. No group
    /// takes in a node of <paramref name="standalone"/> (hooked nodes, which must run as themselves).
    /// Without <paramref name="sharedInputs"/>, linears that read one input fuse one by one.
    /// </summary>
    public static IReadOnlyList<FusedGroup> Find(OnnxGraph graph, IReadOnlyList<OnnxNode> nodes, IEnumerable<string> requested,
                                                 DerivedConstants derived, IReadOnlySet<int> standalone, bool sharedInputs = true)
    {
        var patterns = sharedInputs ? Patterns : [.. Patterns.Where(p => p is not SharedInputLinearsFusion)];
        var scope = new FusionScope(graph, nodes, requested, derived, standalone);
        var claimed = new HashSet<int>();
        var groups = new List<FusedGroup>();
        foreach (var node in nodes)
        {
            if (claimed.Contains(node.Index)) continue;
            foreach (var pattern in patterns)
            {
                if (pattern.Match(node, scope) is not { } group
                    || group.Nodes.Any(n => claimed.Contains(n.Index) || standalone.Contains(n.Index))) continue;
                claimed.UnionWith(group.Nodes.Select(n => n.Index));
                groups.Add(group);
                break;
            }
        }
        return groups;
    }
}
