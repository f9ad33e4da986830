using LoKO.Engine.Onnx;
using LoKO.Engine.Onnx.Ops;

namespace LoKO.Engine.Lora;

/// <summary>
/// Finds every MatMul/Gemm/Conv whose weight is an initializer and names it from the graph: from the
/// bias that follows (Hugging Face exports: `encoder.layer.0.attention.self.query`), else from the weight.
/// </summary>
public static class LoraSiteFinder
{
    public static IReadOnlyList<LoraSite> Find(OnnxGraph graph)
    {
        var consumers = new Dictionary<string, List<OnnxNode>>();
        foreach (var n in graph.Nodes)
            foreach (var i in n.Inputs)
                (consumers.TryGetValue(i, out var list) ? list : consumers[i] = []).Add(n);

        var sites = new List<LoraSite>();
        var used = new Dictionary<string, int>();
        foreach (var node in graph.Nodes)
        {
            var site = node.OpType switch
            {
                "MatMul" => Linear(graph, node, consumers, LoraSiteKind.MatMul),
                "Gemm" => Linear(graph, node, consumers, LoraSiteKind.Gemm),
                "Conv" => Conv(graph, node),
                _ => null,
            };
            if (site is null) continue;
            // Shared weights or odd exports can repeat a name; keep names unique and stable.
            int seen = used.TryGetValue(site.Name, out var c) ? c : 0;
            used[site.Name] = seen + 1;
            sites.Add(seen == 0 ? site : site with { Name = $"{site.Name}#{seen + 1}" });
        }
        return sites;
    }

    static LoraSite? Linear(OnnxGraph graph, OnnxNode node, Dictionary<string, List<OnnxNode>> consumers, LoraSiteKind kind)
    {
        if (node.Inputs.Count < 2 || !graph.Initializers.TryGetValue(node.Inputs[1], out var w) || w.dim() != 2) return null;
        if (graph.Initializers.ContainsKey(node.Inputs[0])) return null;
        bool transposed = kind == LoraSiteKind.Gemm && node.Int("transB", 0) == 1;
        long inF = transposed ? w.shape[1] : w.shape[0];
        long outF = transposed ? w.shape[0] : w.shape[1];

        string? bias = kind == LoraSiteKind.Gemm && node.Inputs.Count > 2 ? node.Inputs[2] : null;
        if (bias is null && consumers.TryGetValue(node.Outputs[0], out var next) && next.Count == 1 && next[0].OpType == "Add")
            bias = next[0].Inputs.FirstOrDefault(i => i != node.Outputs[0] && graph.Initializers.ContainsKey(i));
        string name = bias is not null && bias.EndsWith(".bias", StringComparison.Ordinal)
            ? bias[..^".bias".Length]
            : Trim(node.Inputs[1]);
        return new LoraSite(name, node, kind, node.Inputs[1], inF, outF, [], null);
    }

    static LoraSite? Conv(OnnxGraph graph, OnnxNode node)
    {
        if (!graph.Initializers.TryGetValue(node.Inputs[1], out var w) || w.dim() != 4) return null;
        var geometry = ConvGeometry.Of(node, 2);
        if (geometry.Group != 1) return null;
        return new LoraSite(Trim(node.Inputs[1]), node, LoraSiteKind.Conv, node.Inputs[1], w.shape[1], w.shape[0], w.shape[2..], geometry);
    }

    static string Trim(string weight) => weight.EndsWith(".weight", StringComparison.Ordinal) ? weight[..^".weight".Length] : weight;
}
