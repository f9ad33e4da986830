using Onnx;

namespace LoKO.Engine.Onnx;

/// <summary>One node of an <see cref="OnnxGraph"/>, with typed attribute access.</summary>
public sealed class OnnxNode
{
    readonly Dictionary<string, AttributeProto> _attributes;

    readonly NodeProto _proto;

    internal OnnxNode(NodeProto proto, int index)
    {
        _proto = proto;
        Index = index;
        OpType = proto.OpType;
        Domain = proto.Domain is "" or "ai.onnx" ? "" : proto.Domain;
        // Unnamed nodes (common in exporters) are named by their first output so errors still point somewhere.
        Name = proto.Name.Length > 0 ? proto.Name : $"{proto.OpType}_{(proto.Output.Count > 0 ? proto.Output[0] : index.ToString())}";
        Inputs = [.. proto.Input];
        Outputs = [.. proto.Output];
        _attributes = proto.Attribute.ToDictionary(a => a.Name);
    }

    public int Index { get; }
    public string Name { get; }
    public string OpType { get; }
    public string Domain { get; }
    /// <summary>Input names; an empty string marks an omitted optional input.</summary>
    public IReadOnlyList<string> Inputs { get; }
    public IReadOnlyList<string> Outputs { get; }

    internal OnnxNode Reindexed(int index) => new(_proto, index);

    public bool HasAttribute(string name) => _attributes.ContainsKey(name);

    public long Int(string name, long fallback) => _attributes.TryGetValue(name, out var a) ? a.I : fallback;
    public float Float(string name, float fallback) => _attributes.TryGetValue(name, out var a) ? a.F : fallback;
    public string String(string name, string fallback) =>
        _attributes.TryGetValue(name, out var a) && a.S.Length > 0 ? a.S.ToStringUtf8() : fallback;
    public long[]? Ints(string name) => _attributes.TryGetValue(name, out var a) ? [.. a.Ints] : null;
    public float[]? Floats(string name) => _attributes.TryGetValue(name, out var a) ? [.. a.Floats] : null;
    public TensorProto? TensorAttribute(string name) => _attributes.TryGetValue(name, out var a) ? a.T : null;

    public override string ToString() => $"{Name} ({OpType})";
}
