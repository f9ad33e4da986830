using System.Collections.Concurrent;
using LoKO.Engine.Onnx.Ops;
using static TorchSharp.torch;

namespace LoKO.Engine.Onnx;

/// <summary>
/// Runs an <see cref="OnnxGraph"/> with TorchSharp ops: only the nodes the requested outputs need, in
/// topological order over a name → tensor environment, freeing each intermediate after its last use.
/// Thread-safe; the caller owns the returned tensors (use a dispose scope).
/// </summary>
public sealed class GraphExecutor : IDisposable
{
    readonly Dictionary<string, Tensor> _constants;
    readonly bool _ownsConstants;
    readonly ConcurrentDictionary<string, Plan> _plans = new();
    readonly Dictionary<string, HashSet<int>> _relaxedDims = new();

    sealed record Step(OnnxNode Node, OpKernel Kernel, bool ShapeOnly);

    /// <summary>
    /// The nodes one output set needs. Nodes that depend only on input shapes and constants (the shape
    /// arithmetic exporters emit around every Reshape) are computed once per input-shape signature.
    /// </summary>
    sealed class Plan(Step[] steps, Dictionary<string, int> lastUse, GraphValue[] feeds)
    {
        public Step[] Steps { get; } = steps;
        public Dictionary<string, int> LastUse { get; } = lastUse;
        public GraphValue[] Feeds { get; } = feeds;
        public ConcurrentDictionary<string, Dictionary<string, Tensor>> ShapeCache { get; } = new();
    }

    const int MaxShapeSignatures = 256;

    public GraphExecutor(OnnxGraph graph, Device? device = null)
    {
        Graph = graph;
        Device = device ?? CPU;
        // Integer initializers are shapes and indices: they stay on the CPU where shape arithmetic runs.
        _ownsConstants = Device.type != TorchSharp.DeviceType.CPU;
        _constants = _ownsConstants
            ? graph.Initializers.ToDictionary(kv => kv.Key, kv => kv.Value.is_floating_point() ? kv.Value.to(Device).DetachFromDisposeScope() : kv.Value)
            : new Dictionary<string, Tensor>(graph.Initializers);
    }

    public OnnxGraph Graph { get; }
    public Device Device { get; }

    /// <summary>The frozen value of an initializer on this executor's device.</summary>
    public Tensor Constant(string name) => _constants[name];

    /// <summary>Accept any size in these dims of an input whose graph declares them fixed (e.g. batch and spatial dims).</summary>
    public void RelaxInputDims(string input, params int[] dims)
    {
        lock (_relaxedDims)
        {
            if (!_relaxedDims.TryGetValue(input, out var set)) _relaxedDims[input] = set = [];
            set.UnionWith(dims);
        }
    }

    public Dictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> feeds, IReadOnlyList<string>? outputs = null, INodeHook? hook = null)
    {
        outputs ??= [.. Graph.Outputs.Select(o => o.Name)];
        var plan = _plans.GetOrAdd(string.Join('\n', outputs), _ => MakePlan(outputs));
        foreach (var input in plan.Feeds) Validate(input, feeds);

        var env = new Dictionary<string, Tensor>(_constants);
        var owned = new HashSet<string>();
        foreach (var input in plan.Feeds)
        {
            var t = feeds[input.Name];
            env[input.Name] = t.is_floating_point() && t.device != Device ? t.to(Device) : t;
        }

        var signature = string.Join(';', plan.Feeds.Select(f => string.Join(',', feeds[f.Name].shape))) + (hook is null ? "" : "|" + hook.ShapeKey);
        bool cached = plan.ShapeCache.TryGetValue(signature, out var shapeValues);
        if (cached) foreach (var (name, t) in shapeValues!) env[name] = t;
        var fresh = cached ? null : new Dictionary<string, Tensor>();

        var keep = new HashSet<string>(outputs);
        for (int i = 0; i < plan.Steps.Length; i++)
        {
            var (node, kernel, shapeOnly) = plan.Steps[i];
            bool hooked = hook is not null && hook.Hooks(node);
            if (shapeOnly && cached && !hooked) continue;
            var inputs = new Tensor?[node.Inputs.Count];
            for (int k = 0; k < inputs.Length; k++) inputs[k] = node.Inputs[k] == "" ? null : env[node.Inputs[k]];
            Tensor[] results;
            try
            {
                results = kernel.Run(new OpContext(node, Graph.Opset, inputs));
                if (hooked) results[0] = hook!.After(node, inputs, results[0]);
            }
            catch (OnnxModelException e) when (!e.Message.StartsWith("node '", StringComparison.Ordinal))
            {
                throw OnnxModelException.AtNode(node, Graph.Opset, e.Message);
            }
            catch (Exception e) when (e is not OnnxModelException)
            {
                throw OnnxModelException.AtNode(node, Graph.Opset, e.Message);
            }
            for (int o = 0; o < node.Outputs.Count && o < results.Length; o++)
            {
                var name = node.Outputs[o];
                if (name == "") continue;
                var r = results[o];
                // A kernel may hand back one of its inputs; alias it so freeing either name is safe.
                if (Array.Exists(inputs, x => ReferenceEquals(x, r))) r = r.alias();
                env[name] = r;
                if (shapeOnly && !hooked) fresh![name] = r.DetachFromDisposeScope();
                else owned.Add(name);
            }
            foreach (var name in node.Inputs)
            {
                if (plan.LastUse.TryGetValue(name, out int last) && last == i && !keep.Contains(name) && owned.Remove(name))
                {
                    env[name].Dispose();
                    env.Remove(name);
                }
            }
        }
        if (fresh is not null && plan.ShapeCache.Count < MaxShapeSignatures && !plan.ShapeCache.TryAdd(signature, fresh))
            foreach (var t in fresh.Values) t.Dispose();

        // Callers own what they get; a cached shape value is handed out as an alias of the cached one.
        return outputs.ToDictionary(o => o, o => env.TryGetValue(o, out var t)
            ? (owned.Contains(o) || feeds.ContainsKey(o) ? t : t.alias())
            : throw new OnnxModelException($"'{Graph.Name}': '{o}' was not computed"));
    }

    Plan MakePlan(IReadOnlyList<string> outputs)
    {
        var producer = new Dictionary<string, OnnxNode>();
        foreach (var n in Graph.Nodes) foreach (var o in n.Outputs) producer[o] = n;
        var feedsByName = Graph.Inputs.ToDictionary(i => i.Name);

        var needed = new HashSet<int>();
        var feeds = new HashSet<string>();
        var stack = new Stack<string>(outputs);
        foreach (var o in outputs)
            if (!producer.ContainsKey(o) && !feedsByName.ContainsKey(o) && !_constants.ContainsKey(o))
                throw new OnnxModelException($"'{Graph.Name}' has no value named '{o}'");
        while (stack.Count > 0)
        {
            var name = stack.Pop();
            if (name == "" || _constants.ContainsKey(name)) continue;
            if (feedsByName.ContainsKey(name)) { feeds.Add(name); continue; }
            var node = producer[name];
            if (!needed.Add(node.Index)) continue;
            foreach (var i in node.Inputs) stack.Push(i);
        }
        var nodes = Graph.Nodes.Where(n => needed.Contains(n.Index)).ToArray();
        var lastUse = new Dictionary<string, int>();
        for (int i = 0; i < nodes.Length; i++) foreach (var input in nodes[i].Inputs) lastUse[input] = i;

        var shapeOnly = new HashSet<string>(_constants.Keys) { "" };
        var steps = new Step[nodes.Length];
        for (int i = 0; i < nodes.Length; i++)
        {
            var n = nodes[i];
            bool isShape = n.OpType == "Shape" || n.Inputs.All(shapeOnly.Contains);
            if (isShape) foreach (var o in n.Outputs) shapeOnly.Add(o);
            OpRegistry.TryGet(n.OpType, out var kernel);
            steps[i] = new Step(n, kernel!, isShape);
        }
        return new Plan(steps, lastUse, [.. Graph.Inputs.Where(i => feeds.Contains(i.Name))]);
    }

    void Validate(GraphValue input, IReadOnlyDictionary<string, Tensor> feeds)
    {
        if (!feeds.TryGetValue(input.Name, out var t))
            throw new OnnxModelException($"'{Graph.Name}': input '{input.Name}' is missing (expected {input})");
        if (t.dtype != input.ElementType)
            throw new OnnxModelException($"'{Graph.Name}': input '{input.Name}' must be {TensorProtoConverter.OnnxTypeName(input.ElementType)}, got {TensorProtoConverter.OnnxTypeName(t.dtype)}");
        if (input.Dims is null) return;
        if (t.dim() != input.Dims.Length)
            throw new OnnxModelException($"'{Graph.Name}': input '{input.Name}' must have rank {input.Dims.Length} ({input}), got shape [{string.Join(",", t.shape)}]");
        HashSet<int>? relaxed;
        lock (_relaxedDims) _relaxedDims.TryGetValue(input.Name, out relaxed);
        for (int d = 0; d < input.Dims.Length; d++)
            if (input.Dims[d] is long want && t.shape[d] != want && relaxed?.Contains(d) != true)
                throw new OnnxModelException($"'{Graph.Name}': input '{input.Name}' dimension {d} must be {want} ({input}), got shape [{string.Join(",", t.shape)}]");
    }

    public void Dispose()
    {
        foreach (var plan in _plans.Values)
            foreach (var values in plan.ShapeCache.Values)
                foreach (var t in values.Values) t.Dispose();
        if (!_ownsConstants) return;
        foreach (var (name, t) in _constants)
            if (!ReferenceEquals(t, Graph.Initializers[name])) t.Dispose();
    }
}
