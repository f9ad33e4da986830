using System.Collections.Concurrent;
using LoKO.Engine.Onnx.Fusion;
using LoKO.Engine.Onnx.Ops;
using static TorchSharp.torch;

namespace LoKO.Engine.Onnx;

/// <summary>
/// What one set of requested outputs needs, resolved once: the nodes in topological order (recognised
/// patterns fused into single steps), every value numbered so that a run keeps its tensors in an array,
/// and the step after which each value is dead. Steps that depend only on input shapes and constants (the
/// shape arithmetic exporters emit around every Reshape) are marked, and their values are cached per
/// input-shape signature.
/// </summary>
internal sealed class ExecutionPlan
{
    ExecutionPlan(PlanStep[] steps, int slotCount, (int, Tensor)[] constants, GraphValue[] feeds, int[] feedSlots,
                  int[] outputSlots, OnnxNode[] fusedNodes)
    {
        Steps = steps;
        SlotCount = slotCount;
        Constants = constants;
        HostConstants = [.. constants.Select(c => (c.Item1, HostShape.Of(c.Item2))).Where(c => c.Item2 is not null).Select(c => (c.Item1, c.Item2!))];
        Feeds = feeds;
        FeedSlots = feedSlots;
        OutputSlots = outputSlots;
        FusedNodes = fusedNodes;
    }

    public PlanStep[] Steps { get; }
    public int SlotCount { get; }
    /// <summary>The constants the steps read, and their slots.</summary>
    public (int Slot, Tensor Value)[] Constants { get; }
    /// <summary>The small int64 constants (axes, indices, shapes) as host values, read once.</summary>
    public (int Slot, HostShape Value)[] HostConstants { get; }
    public GraphValue[] Feeds { get; }
    public int[] FeedSlots { get; }
    /// <summary>Slots of the requested outputs, in the order asked for.</summary>
    public int[] OutputSlots { get; }
    /// <summary>Graph nodes that fused steps run in place of: a hook on any of them needs a plan that leaves them out.</summary>
    public OnnxNode[] FusedNodes { get; }
    public ConcurrentDictionary<string, (int Slot, Tensor Value)[]> ShapeCache { get; } = new();

    /// <param name="fusion">Null for a plan that runs every node as itself; SharedInputs: linears reading one input run as one product.</param>
    public static ExecutionPlan Build(OnnxGraph graph, IReadOnlyDictionary<string, Tensor> constants, IReadOnlyList<string> outputs,
                                      (DerivedConstants Derived, IReadOnlySet<int> Standalone, bool SharedInputs)? fusion)
    {
        var nodes = Needed(graph, constants, outputs, out var feeds);
        var groups = fusion is var (derived, standalone, shared) ? GraphFusion.Find(graph, nodes, outputs, derived, standalone, shared) : [];
        var groupOf = new Dictionary<int, FusedGroup>();
        foreach (var g in groups)
            foreach (var n in g.Nodes) groupOf[n.Index] = g;

        // A fused group that hands on one value runs where its last node was: by then everything it reads from
        // outside exists. One that hands on several (linears sharing their input, whose outputs nodes before its
        // last one read) runs where its first was: it reads that node's input and constants only.
        var units = new List<(OnnxNode Node, FusedGroup? Group)>();
        foreach (var n in nodes)
        {
            if (!groupOf.TryGetValue(n.Index, out var g)) units.Add((n, null));
            else if (n.Index == (g.Outputs.Count > 1 ? g.Nodes.Min(m => m.Index) : g.Nodes.Max(m => m.Index))) units.Add((n, g));
        }

        var slots = new Dictionary<string, int>();
        int Slot(string name) => name == "" ? -1 : slots.TryGetValue(name, out int s) ? s : slots[name] = slots.Count;
        var inputs = units.Select(u => (u.Group?.Inputs ?? u.Node.Inputs).Select(Slot).ToArray()).ToList();
        var produced = units.Select(u => (u.Group?.Outputs ?? u.Node.Outputs).Select(Slot).ToArray()).ToList();
        int[] outputSlots = [.. outputs.Select(Slot)];
        int[] feedSlots = [.. feeds.Select(f => Slot(f.Name))];

        var lastUse = new int[slots.Count];
        for (int i = 0; i < units.Count; i++)
        {
            foreach (int s in produced[i]) if (s >= 0) lastUse[s] = i;
            foreach (int s in inputs[i]) if (s >= 0) lastUse[s] = i;
        }
        foreach (int s in outputSlots) lastUse[s] = -1;

        var shapeOnly = new HashSet<int>(constants.Keys.Where(slots.ContainsKey).Select(k => slots[k]));
        var steps = new PlanStep[units.Count];
        for (int i = 0; i < units.Count; i++)
        {
            var (node, group) = units[i];
            string opType = group?.OpType ?? node.OpType;
            bool isShape = opType == "Shape" || inputs[i].All(s => s < 0 || shapeOnly.Contains(s));
            if (isShape) shapeOnly.UnionWith(produced[i].Where(s => s >= 0));
            steps[i] = new PlanStep
            {
                Node = node,
                OpType = opType,
                Fused = group is not null,
                Inputs = inputs[i],
                Outputs = produced[i],
                Run = Runner(node, group),
                MultiplyAddsPerInputElement = group?.MultiplyAddsPerInputElement ?? 0,
                ShapeOnly = isShape,
                Frees = [.. inputs[i].Concat(produced[i]).Where(s => s >= 0 && lastUse[s] == i).Distinct()],
            };
        }
        return new ExecutionPlan(steps, slots.Count,
            [.. constants.Where(kv => slots.ContainsKey(kv.Key)).Select(kv => (slots[kv.Key], kv.Value))],
            feeds, feedSlots, outputSlots, [.. groups.SelectMany(g => g.Nodes)]);
    }

    static Func<OpContext, Tensor[]> Runner(OnnxNode node, FusedGroup? group) =>
        group is not null ? group.Run
        // OnnxGraph has checked at load that every node's op has a kernel.
        : OpRegistry.TryGet(node.OpType, out var kernel) ? kernel.Run
        : throw new InvalidOperationException($"no kernel for {node}");

    /// <summary>The nodes the outputs depend on, in graph order, and the graph inputs they read.</summary>
    static List<OnnxNode> Needed(OnnxGraph graph, IReadOnlyDictionary<string, Tensor> constants, IReadOnlyList<string> outputs, out GraphValue[] feeds)
    {
        var producer = new Dictionary<string, OnnxNode>();
        foreach (var n in graph.Nodes) foreach (var o in n.Outputs) producer[o] = n;
        var feedsByName = graph.Inputs.ToDictionary(i => i.Name);

        var needed = new HashSet<int>();
        var fed = new HashSet<string>();
        var stack = new Stack<string>(outputs);
        foreach (var o in outputs)
            if (!producer.ContainsKey(o) && !feedsByName.ContainsKey(o) && !constants.ContainsKey(o))
                throw new OnnxModelException($"'{graph.Name}' has no value named '{o}'");
        while (stack.Count > 0)
        {
            var name = stack.Pop();
            if (name == "" || constants.ContainsKey(name)) continue;
            if (feedsByName.ContainsKey(name)) { fed.Add(name); continue; }
            var node = producer[name];
            if (!needed.Add(node.Index)) continue;
            foreach (var i in node.Inputs) stack.Push(i);
        }
        feeds = [.. graph.Inputs.Where(i => fed.Contains(i.Name))];
        return [.. graph.Nodes.Where(n => needed.Contains(n.Index))];
    }
}
