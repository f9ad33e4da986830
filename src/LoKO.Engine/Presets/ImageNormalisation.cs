using LoKO.Engine.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace LoKO.Engine.Presets;

/// <summary>
/// The channel order and mean image a preprocess graph applies (ResNet18's: RGB → BGR, minus a 224×224
/// mean image), taken from the graph itself so the preset cannot drift from it. For other input sizes the
/// mean image is resized bilinearly, which is what lets inputs smaller than 224×224 work.
/// </summary>
public sealed class ImageNormalisation : IImageNormalisation, IDisposable
{
    readonly Tensor _order;
    readonly Tensor _mean;
    readonly Dictionary<(long, long, string), Tensor> _meanBySize = [];

    ImageNormalisation(long[] order, Tensor mean)
    {
        _order = tensor(order).DetachFromDisposeScope();
        _mean = mean.DetachFromDisposeScope();
    }

    /// <summary>Channel i of the output is channel ChannelOrder[i] of the RGB input.</summary>
    public long[] ChannelOrder => _order.data<long>().ToArray();

    /// <summary>Recognises Split(input) → Concat(permuted) → Sub(mean); anything else is refused.</summary>
    public static ImageNormalisation FromPreprocessGraph(OnnxGraph graph)
    {
        var nodes = graph.Nodes;
        if (nodes.Count != 3 || nodes[0].OpType != "Split" || nodes[1].OpType != "Concat" || nodes[2].OpType != "Sub")
            throw new OnnxModelException($"'{graph.Name}': expected a Split → Concat → Sub preprocess graph, found {string.Join(" → ", nodes.Select(n => n.OpType))}");
        var split = nodes[0].Outputs.ToList();
        long[] order = [.. nodes[1].Inputs.Select(i => (long)split.IndexOf(i))];
        if (order.Length != 3 || order.Any(o => o < 0))
            throw new OnnxModelException($"'{graph.Name}': the Concat does not permute the three split channels");
        var meanName = nodes[2].Inputs.FirstOrDefault(graph.Initializers.ContainsKey)
            ?? throw new OnnxModelException($"'{graph.Name}': the Sub has no mean initializer");
        return new ImageNormalisation(order, graph.Initializers[meanName].clone());
    }

    /// <summary>[B, 3, H, W] RGB 0–255 → the network's input.</summary>
    public Tensor Apply(Tensor rgb)
    {
        long h = rgb.shape[2], w = rgb.shape[3];
        Tensor mean;
        lock (_meanBySize)
        {
            var key = (h, w, rgb.device.ToString());
            if (!_meanBySize.TryGetValue(key, out mean!))
            {
                using var scope = NewDisposeScope();
                var resized = _mean.shape[2] == h && _mean.shape[3] == w
                    ? _mean.clone()
                    : nn.functional.interpolate(_mean, [h, w], mode: InterpolationMode.Bilinear, align_corners: false);
                mean = _meanBySize[key] = resized.to(rgb.device).MoveToOuterDisposeScope().DetachFromDisposeScope();
            }
        }
        return rgb.index_select(1, _order.to(rgb.device)) - mean;
    }

    public void Dispose()
    {
        _order.Dispose();
        _mean.Dispose();
        foreach (var t in _meanBySize.Values) t.Dispose();
    }
}
