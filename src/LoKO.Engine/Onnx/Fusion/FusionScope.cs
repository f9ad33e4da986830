using static TorchSharp.torch;

namespace LoKO.Engine.Onnx.Fusion;

/// <summary>
/// What a pattern may look at: the nodes one plan runs, who produces and who reads each value, and the
/// graph's constants. A value the caller asked for counts as read from outside.
/// </summary>
internal sealed class FusionScope
{
    readonly OnnxGraph _graph;
    readonly Dictionary<string, OnnxNode> _producers = [];
    readonly Dictionary<string, List<OnnxNode>> _consumers = [];
    readonly HashSet<string> _requested;
    readonly IReadOnlySet<int> _standalone;

    public FusionScope(OnnxGraph graph, IReadOnlyList<OnnxNode> nodes, IEnumerable<string> requested, DerivedConstants derived,
                       IReadOnlySet<int> standalone)
    {
        _graph = graph;
        _standalone = standalone;
        Derived = derived;
        _requested = [.. requested];
        foreach (var n in nodes)
        {
            foreach (var o in n.Outputs) _producers[o] = n;
            foreach (var i in n.Inputs.Distinct())
                (_consumers.TryGetValue(i, out var list) ? list : _consumers[i] = []).Add(n);
        }
    }

    public long Opset => _graph.Opset;

    /// <summary>Where a pattern keeps what it computes once from constants (on the executor's device).</summary>
    public DerivedConstants Derived { get; }

    /// <summary>Whether a group may take <paramref name="node"/> in: a hooked node runs as itself. For a pattern's optional tail.</summary>
    public bool MayFuse(OnnxNode node) => !_standalone.Contains(node.Index);

    public OnnxNode? Producer(string value) => _producers.GetValueOrDefault(value);

    public IReadOnlyList<OnnxNode> Consumers(string value) => _consumers.TryGetValue(value, out var list) ? list : [];

    /// <summary>The one node that reads <paramref name="value"/> (any number of times), if nothing else does.</summary>
    public OnnxNode? SoleConsumer(string value) =>
        !_requested.Contains(value) && _consumers.TryGetValue(value, out var list) && list.Count == 1 ? list[0] : null;

    /// <summary>Whether <paramref name="value"/> is read by exactly these nodes and nothing else.</summary>
    public bool ReadOnlyBy(string value, params OnnxNode[] nodes) =>
        !_requested.Contains(value) && _consumers.TryGetValue(value, out var list) && list.Count == nodes.Length && nodes.All(list.Contains);

    /// <summary>Whether <paramref name="node"/> is <paramref name="opType"/>(<paramref name="a"/>, <paramref name="b"/>), in that order.</summary>
    public static bool Is(OnnxNode node, string opType, string a, string b) =>
        node.OpType == opType && node.Inputs.Count == 2 && node.Inputs[0] == a && node.Inputs[1] == b;

    /// <summary>The operand of a two-input node that is not <paramref name="operand"/>, for commutative ops.</summary>
    public static string? Other(OnnxNode binary, string operand) =>
        binary.Inputs.Count != 2 ? null
        : binary.Inputs[0] == operand ? binary.Inputs[1]
        : binary.Inputs[1] == operand ? binary.Inputs[0]
        : null;

    public Tensor? Constant(string name) => _graph.Initializers.GetValueOrDefault(name);

    /// <summary>
    /// The value of a one-element numeric constant of rank 0 or 1: one that broadcasts against any
    /// operand without changing its shape.
    /// </summary>
    public double? Scalar(string name)
    {
        if (Constant(name) is not { } t || t.numel() != 1 || t.dim() > 1 || t.dtype == ScalarType.Bool) return null;
        using var d = t.to(ScalarType.Float64);
        return d.item<double>();
    }

    /// <summary>A constant int64 list such as ReduceMean's axes input.</summary>
    public long[]? Ints(string name) =>
        Constant(name) is { } t && t.dtype == ScalarType.Int64 && t.dim() == 1 ? t.data<long>().ToArray() : null;
}
