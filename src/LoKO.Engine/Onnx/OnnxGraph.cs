using Google.Protobuf;
using LoKO.Engine.Onnx.Ops;
using Onnx;
using static TorchSharp.torch;

namespace LoKO.Engine.Onnx;

/// <summary>
/// A parsed, validated ONNX graph: nodes in topological order, initializers (and folded Constant
/// nodes) as frozen tensors. Everything that can be checked without inputs is checked here, so a bad
/// file fails at load, not at the first request.
/// </summary>
public sealed class OnnxGraph : IDisposable
{
    OnnxGraph(string name, long opset, List<OnnxNode> nodes, Dictionary<string, Tensor> initializers,
              List<GraphValue> inputs, List<GraphValue> outputs, long? weightSeed)
    {
        WeightSeed = weightSeed;
        Name = name;
        Opset = opset;
        Nodes = nodes;
        Initializers = initializers;
        Inputs = inputs;
        Outputs = outputs;
    }

    public string Name { get; }
    /// <summary>Version of the default ("ai.onnx") operator set the model was exported with.</summary>
    public long Opset { get; }
    public IReadOnlyList<OnnxNode> Nodes { get; }
    public IReadOnlyDictionary<string, Tensor> Initializers { get; }
    /// <summary>Inputs the caller must feed (graph inputs that are not initializers).</summary>
    public IReadOnlyList<GraphValue> Inputs { get; }
    public IReadOnlyList<GraphValue> Outputs { get; }
    /// <summary>Set when the weights were drawn from this seed (<see cref="WeightlessInitializers"/>), not read from the file.</summary>
    public long? WeightSeed { get; }

    /// <param name="weightSeed">Draw the weights from this seed instead of reading them; a stripped file's own seed is used when null.</param>
    public static OnnxGraph Load(string path, string? name = null, long? weightSeed = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"ONNX model file not found: {path}", path);
        using var stream = File.OpenRead(path);
        return Load(stream, name ?? Path.GetFileNameWithoutExtension(path), weightSeed);
    }

    public static OnnxGraph Load(Stream stream, string name, long? weightSeed = null) => FromProto(Parse(stream, name), name, weightSeed);

    /// <summary>The file's protobuf, or an <see cref="OnnxModelException"/> for one that is not a model.</summary>
    public static ModelProto Parse(Stream stream, string name)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(stream);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new OnnxModelException($"'{name}' is not a valid ONNX model file (truncated or corrupt): {e.Message}", e);
        }
        return model;
    }

    public static OnnxGraph FromProto(ModelProto model, string name, long? weightSeed = null)
    {
        var graph = model.Graph;
        if (graph is null || graph.Node.Count == 0)
            throw new OnnxModelException($"'{name}' holds no graph (is it an ONNX model file?)");
        var opsetImport = model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx");
        // IR version 3 files without an opset import predate opset versioning; treat as opset 1.
        long opset = opsetImport?.Version ?? 1;

        weightSeed ??= WeightlessInitializers.SeedOf(model);
        var initializers = new Dictionary<string, Tensor>();
        try
        {
            var drawn = weightSeed is { } seed ? WeightlessInitializers.Draw(graph, seed) : null;
            foreach (var init in graph.Initializer)
                // Initializers live as long as the graph, whatever dispose scope the caller loads it in.
                initializers[init.Name] = drawn is not null && drawn.Remove(init.Name, out var t)
                    ? t
                    : TensorProtoConverter.ToTensor(init, $"initializer '{init.Name}'").DetachFromDisposeScope();

            var nodes = new List<OnnxNode>();
            foreach (var proto in graph.Node)
            {
                var node = new OnnxNode(proto, 0);
                if (node.Domain != "")
                    throw OnnxModelException.AtNode(node, opset, $"operator domain '{node.Domain}' is not supported");
                if (!OpRegistry.TryGet(node.OpType, out var kernel))
                    throw OnnxModelException.AtNode(node, opset, "operator is not supported");
                if (opset < kernel.SinceOpset)
                    throw OnnxModelException.AtNode(node, opset, $"supported from opset {kernel.SinceOpset} only");
                if (node.OpType == "Constant")
                {
                    // Fold constants once at load instead of rebuilding them on every forward.
                    initializers[node.Outputs[0]] = ConstantValue(node, opset).DetachFromDisposeScope();
                    continue;
                }
                nodes.Add(node);
            }

            var inputs = graph.Input.Where(i => !initializers.ContainsKey(i.Name)).Select(GraphValue.From).ToList();
            var outputs = graph.Output.Select(GraphValue.From).ToList();
            var sorted = TopologicalOrder(nodes, inputs.Select(i => i.Name).Concat(initializers.Keys), opset);
            foreach (var o in outputs)
                if (!initializers.ContainsKey(o.Name) && !sorted.Any(n => n.Outputs.Contains(o.Name)))
                    throw new OnnxModelException($"'{name}': graph output '{o.Name}' is not produced by any node");
            return new OnnxGraph(name, opset, sorted, initializers, inputs, outputs, weightSeed);
        }
        catch
        {
            foreach (var t in initializers.Values) t.Dispose();
            throw;
        }
    }

    /// <summary>Kahn's order, re-indexing nodes; names the first node whose input nothing produces.</summary>
    static List<OnnxNode> TopologicalOrder(List<OnnxNode> nodes, IEnumerable<string> available, long opset)
    {
        var known = new HashSet<string>(available) { "" };
        var pending = new List<OnnxNode>(nodes);
        var ordered = new List<OnnxNode>(nodes.Count);
        while (pending.Count > 0)
        {
            int before = ordered.Count;
            var next = new List<OnnxNode>();
            foreach (var n in pending)
            {
                if (n.Inputs.All(known.Contains))
                {
                    ordered.Add(n);
                    foreach (var o in n.Outputs) known.Add(o);
                }
                else next.Add(n);
            }
            if (ordered.Count == before)
            {
                // The first stuck node may only wait on another stuck node; look for the one whose input
                // nothing at all produces. If there is none, the stuck nodes wait on each other.
                var produced = new HashSet<string>(next.SelectMany(n => n.Outputs));
                foreach (var stuck in next)
                {
                    var missing = stuck.Inputs.FirstOrDefault(i => !known.Contains(i) && !produced.Contains(i));
                    if (missing is not null)
                        throw OnnxModelException.AtNode(stuck, opset, $"input '{missing}' is not produced by any node, graph input or initializer");
                }
                throw OnnxModelException.AtNode(next[0], opset, "the graph has a cycle");
            }
            pending = next;
        }
        return [.. ordered.Select((n, i) => n.Reindexed(i))];
    }

    static Tensor ConstantValue(OnnxNode node, long opset)
    {
        var what = $"Constant '{node.Name}'";
        if (node.TensorAttribute("value") is { } t) return TensorProtoConverter.ToTensor(t, what);
        if (node.HasAttribute("value_float")) return tensor(node.Float("value_float", 0));
        if (node.Floats("value_floats") is { } fs) return tensor(fs);
        if (node.HasAttribute("value_int")) return tensor(node.Int("value_int", 0));
        if (node.Ints("value_ints") is { } ls) return tensor(ls);
        throw OnnxModelException.AtNode(node, opset, "Constant without a supported value attribute");
    }

    public void Dispose()
    {
        foreach (var t in Initializers.Values) t.Dispose();
    }
}
