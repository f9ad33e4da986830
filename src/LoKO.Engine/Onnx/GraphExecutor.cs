using System.Collections.Concurrent;
using System.Diagnostics;
using LoKO.Engine.Onnx.Fusion;
using LoKO.Engine.Onnx.Ops;
using static TorchSharp.torch;

namespace LoKO.Engine.Onnx;

/// <summary>
/// Runs an <see cref="OnnxGraph"/> with TorchSharp ops: only the nodes the requested outputs need, in
/// topological order, freeing each intermediate after its last use. Patterns that exporters emit for one
/// torch op (see <see cref="Fusion.GraphFusion"/>) run as that op. Thread-safe; the caller owns the
/// returned tensors (use a dispose scope).
/// </summary>
public sealed class GraphExecutor : IDisposable
{
    readonly Dictionary<string, Tensor> _constants;
    readonly bool _ownsConstants;
    readonly bool _fuse;
    // Plans by requested outputs and by the nodes kept out of fused steps ("" none, null no fusion at all).
    readonly ConcurrentDictionary<(string Outputs, string? Standalone), ExecutionPlan> _plans = new();
    readonly DerivedConstants _derived;
    readonly Dictionary<string, HashSet<int>> _relaxedDims = new();

    const int MaxShapeSignatures = 256;

    /// <param name="fuse">Run recognised patterns as single ops; off runs every node as itself (the reference the fused plan is tested against).</param>
    public GraphExecutor(OnnxGraph graph, Device? device = null, bool fuse = true)
    {
        Graph = graph;
        Device = device ?? CPU;
        _fuse = fuse;
        _derived = new DerivedConstants(Device);
        // Integer initializers are shapes and indices: they stay on the CPU where shape arithmetic runs.
        _ownsConstants = Device.type != TorchSharp.DeviceType.CPU;
        _constants = _ownsConstants
            ? graph.Initializers.ToDictionary(kv => kv.Key, kv => kv.Value.is_floating_point() ? kv.Value.to(Device).DetachFromDisposeScope() : kv.Value)
            : new Dictionary<string, Tensor>(graph.Initializers);
        if (Device.type == TorchSharp.DeviceType.CPU) ConvWeightsChannelsLast();
    }

    /// <summary>
    /// Conv weights NHWC in memory, as the activations between convolutions are (<see cref="ChannelsLast"/>): a Conv
    /// that runs as its node (a LoRA site) otherwise had its weight copied to that layout at every call, 9.4 MB for
    /// one of ResNet18's last 3×3 convolutions. Same values and shape; the graph's own initializers stay as they are.
    /// </summary>
    void ConvWeightsChannelsLast()
    {
        foreach (var node in Graph.Nodes)
        {
            if (node.OpType != "Conv" || node.Inputs.Count < 2 || !_constants.TryGetValue(node.Inputs[1], out var w)) continue;
            if (!ReferenceEquals(w, Graph.Initializers[node.Inputs[1]])) continue; // already laid out for another Conv
            var laid = ChannelsLast.Of(w);
            if (!ReferenceEquals(laid, w)) _constants[node.Inputs[1]] = laid.DetachFromDisposeScope();
        }
    }

    public OnnxGraph Graph { get; }
    public Device Device { get; }
    /// <summary>When set, every step run is timed into it (the accelerator synchronised around each step).</summary>
    public StepProfile? Profile { get; set; }

    /// <summary>
    /// Shape arithmetic of a new input shape runs in managed code (<see cref="HostShapes"/>); off, every such step
    /// runs its kernel (the reference it is tested against).
    /// </summary>
    internal bool HostShapeArithmetic { get; set; } = true;

    /// <summary>Linears that read one input run as one product (<see cref="SharedInputLinearsFusion"/>); off, each runs alone. Set before the first run.</summary>
    internal bool FuseSharedInputLinears { get; init; } = true;

    /// <summary>The MatMul weights this executor's plans run packed (none off the CPU or without MKL).</summary>
    internal PackedWeights PackedWeights => _derived.Packed;

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
        var plan = PlanFor(outputs, hook);
        foreach (var input in plan.Feeds) Validate(input, feeds);

        var env = new Tensor?[plan.SlotCount];
        var owned = new bool[plan.SlotCount];
        foreach (var (slot, t) in plan.Constants) env[slot] = t;
        for (int f = 0; f < plan.Feeds.Length; f++)
        {
            var t = feeds[plan.Feeds[f].Name];
            env[plan.FeedSlots[f]] = t.is_floating_point() && t.device != Device ? t.to(Device) : t;
        }

        var signature = string.Join(';', plan.Feeds.Select(f => string.Join(',', feeds[f.Name].shape))) + (hook is null ? "" : "|" + hook.ShapeKey);
        bool cached = plan.ShapeCache.TryGetValue(signature, out var shapeValues);
        if (cached) foreach (var (slot, t) in shapeValues!) env[slot] = t;
        var fresh = cached ? null : new List<(int, Tensor)>();
        // Host values of shape steps, made tensors only where a kernel or the caller reads them.
        var host = fresh is not null && HostShapeArithmetic ? new HostShape?[plan.SlotCount] : null;
        if (host is not null) foreach (var (slot, value) in plan.HostConstants) host[slot] = value;
        var profile = Profile;
        // The caller's thread count, which small steps run below (StepThreads) and which the run leaves as it found.
        var threads = new ThreadBudget(Device.type == TorchSharp.DeviceType.CPU && StepThreads.Available ? StepThreads.Current : 1);
        int outerRun = StepThreads.RunThreads;
        StepThreads.RunThreads = threads.Caller;
        try
        {
            foreach (var step in plan.Steps)
            {
                bool hooked = hook is not null && hook.Hooks(step.Node);
                if (!(step.ShapeOnly && cached && !hooked))
                {
                    long start = profile is null ? 0 : Stopwatch.GetTimestamp();
                    if (host is null || !step.ShapeOnly || hooked || !RunOnHost(step, env, host))
                    {
                        if (host is not null) foreach (int slot in step.Inputs) Materialise(slot, env, host, fresh!);
                        Execute(step, env, owned, hooked ? hook : null, fresh, ref threads);
                    }
                    if (profile is not null)
                    {
                        if (Device.type == TorchSharp.DeviceType.CUDA) cuda.synchronize(Device);
                        profile.Add(step.OpType, Stopwatch.GetTimestamp() - start);
                    }
                }
                foreach (int slot in step.Frees)
                {
                    if (!owned[slot]) continue;
                    env[slot]!.Dispose();
                    env[slot] = null;
                    owned[slot] = false;
                }
            }
        }
        finally
        {
            if (threads.Now != threads.Caller) StepThreads.Set(threads.Caller);
            StepThreads.RunThreads = outerRun;
        }
        if (host is not null) foreach (int slot in plan.OutputSlots) Materialise(slot, env, host, fresh!);
        // Shape values live outside every dispose scope: those the cache does not keep (it is full, or another
        // thread cached the signature first) are this run's alone and are freed with it.
        bool kept = fresh is not null && plan.ShapeCache.Count < MaxShapeSignatures && plan.ShapeCache.TryAdd(signature, [.. fresh]);
        var transient = fresh is not null && !kept ? fresh : null;

        // Callers own what they get; a cached shape value or a constant is handed out as an alias.
        var results = new Dictionary<string, Tensor>();
        for (int o = 0; o < outputs.Count; o++)
        {
            int slot = plan.OutputSlots[o];
            var t = env[slot] ?? throw new OnnxModelException($"'{Graph.Name}': '{outputs[o]}' was not computed");
            results[outputs[o]] = owned[slot] || feeds.ContainsKey(outputs[o]) ? t : t.alias();
        }
        if (transient is not null) foreach (var (_, t) in transient) t.Dispose();
        return results;
    }

    /// <summary>
    /// The plan for these outputs. A hooked node must run as itself, so a hook on nodes that fused steps
    /// stand in for gets a plan whose fused steps leave those nodes out (the rest stays fused).
    /// </summary>
    internal ExecutionPlan PlanFor(IReadOnlyList<string> outputs, INodeHook? hook = null)
    {
        var key = string.Join('\n', outputs);
        if (!_fuse) return _plans.GetOrAdd((key, null), _ => ExecutionPlan.Build(Graph, _constants, outputs, null));
        var plan = _plans.GetOrAdd((key, ""), _ => ExecutionPlan.Build(Graph, _constants, outputs, (_derived, new HashSet<int>(), FuseSharedInputLinears)));
        if (hook is null) return plan;
        if (!plan.FusedNodes.Any(hook.Hooks)) return plan;
        // Every hooked node, fused here or not: with some groups gone, another pattern could take one in.
        var hooked = plan.Steps.Where(s => !s.Fused).Select(s => s.Node).Concat(plan.FusedNodes)
            .Where(hook.Hooks).Select(n => n.Index).Order().ToHashSet();
        return _plans.GetOrAdd((key, string.Join(',', hooked)), _ => ExecutionPlan.Build(Graph, _constants, outputs, (_derived, hooked, FuseSharedInputLinears)));
    }

    void Execute(PlanStep step, Tensor?[] env, bool[] owned, INodeHook? hook, List<(int, Tensor)>? fresh, ref ThreadBudget threads)
    {
        var inputs = new Tensor?[step.Inputs.Length];
        for (int k = 0; k < inputs.Length; k++) inputs[k] = step.Inputs[k] < 0 ? null : env[step.Inputs[k]];
        if (threads.Caller > 1)
        {
            int wanted = StepThreads.WorthThreads(step, inputs) ? threads.Caller : 1;
            if (wanted != threads.Now) StepThreads.Set(threads.Now = wanted);
        }
        Tensor[] results;
        try
        {
            results = step.Run(new OpContext(step.Node, Graph.Opset, inputs));
            if (hook is not null) results[0] = hook.After(step.Node, inputs, results[0]);
        }
        catch (OnnxModelException e) when (!e.Message.StartsWith("node '", StringComparison.Ordinal))
        {
            throw Failure(step, e.Message);
        }
        catch (Exception e) when (e is not OnnxModelException)
        {
            throw Failure(step, e.Message);
        }
        for (int o = 0; o < step.Outputs.Length && o < results.Length; o++)
        {
            int slot = step.Outputs[o];
            if (slot < 0) continue;
            var r = results[o];
            // A kernel may hand back one of its inputs; alias it so freeing either is safe.
            if (IsOneOf(r, inputs)) r = r.alias();
            env[slot] = r;
            if (step.ShapeOnly && hook is null && fresh is not null) fresh.Add((slot, r.DetachFromDisposeScope()));
            else owned[slot] = true;
        }
    }

    /// <summary>The threads a run's caller had and those its steps take now.</summary>
    struct ThreadBudget(int caller)
    {
        public readonly int Caller = caller;
        public int Now = caller;
    }

    /// <summary>A shape step computed in managed code; false where <see cref="HostShapes"/> leaves it to its kernel.</summary>
    bool RunOnHost(PlanStep step, Tensor?[] env, HostShape?[] host)
    {
        if (step.Fused || step.Outputs.Length != 1 || step.Outputs[0] < 0 || !HostShapes.Handles(step.OpType)) return false;
        int[] slots = step.Inputs;
        HostShape? Value(int i) => i >= slots.Length || slots[i] < 0 ? null
            : host[slots[i]] ??= env[slots[i]] is { } t ? HostShape.Of(t) : null;
        long[]? Dims(int i) => i >= slots.Length || slots[i] < 0 ? null : host[slots[i]]?.Dims ?? env[slots[i]]?.shape;
        if (HostShapes.Run(step.Node, Graph.Opset, slots.Length, Value, Dims) is not { } value) return false;
        host[step.Outputs[0]] = value;
        return true;
    }

    /// <summary>The tensor of a slot that so far only has a host value; kept with the run's other shape values.</summary>
    static void Materialise(int slot, Tensor?[] env, HostShape?[] host, List<(int, Tensor)> fresh)
    {
        if (slot < 0 || env[slot] is not null || host[slot] is not { } value) return;
        var t = value.ToTensor().DetachFromDisposeScope();
        env[slot] = t;
        fresh.Add((slot, t));
    }

    static bool IsOneOf(Tensor t, Tensor?[] inputs)
    {
        foreach (var x in inputs) if (ReferenceEquals(x, t)) return true;
        return false;
    }

    OnnxModelException Failure(PlanStep step, string problem) =>
        OnnxModelException.AtNode(step.Node, Graph.Opset, step.Fused ? $"in the fused {step.OpType} that {(step.Outputs.Length > 1 ? "starts" : "ends")} here: {problem}" : problem);

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
        _derived.Dispose();
        foreach (var plan in _plans.Values)
            foreach (var values in plan.ShapeCache.Values)
                foreach (var (_, t) in values) t.Dispose();
        foreach (var (name, t) in _constants)
            if (!ReferenceEquals(t, Graph.Initializers[name])) t.Dispose();
    }
}
