using LoKO.Engine.Lora;
using LoKO.Engine.Onnx;

namespace LoKO.Engine.Peft;

/// <summary>
/// torchvision's module paths for the convolutions of a basic-block ResNet whose export lost its names (the
/// CNTK ResNet18 calls them `Parameter91`…): read from the graph's structure. The first conv is `conv1`; each
/// residual Add closes a block; a stage starts where the width changes; in a block the 1×1 conv that changes
/// the width is `downsample.0`, the others `conv1` and `conv2` in graph order.
/// </summary>
public static class ResNetModulePaths
{
    public static IReadOnlyDictionary<string, string> Of(OnnxGraph graph, IReadOnlyList<LoraSite> sites)
    {
        var siteByNode = sites.ToDictionary(s => s.Node.Index);
        var paths = new Dictionary<string, string>();
        int stage = 0, block = 0, inBlock = 0;
        long width = -1;
        bool stem = true;
        foreach (var node in graph.Nodes)
        {
            if (node.OpType == "Add" && !stem)
            {
                block++;
                inBlock = 0;
                continue;
            }
            if (node.OpType != "Conv" || !siteByNode.TryGetValue(node.Index, out var site)) continue;
            if (stem)
            {
                paths[site.Name] = "conv1";
                stem = false;
                continue;
            }
            if (site.OutFeatures != width)
            {
                width = site.OutFeatures;
                stage++;
                block = 0;
                inBlock = 0;
            }
            bool downsample = site.KernelShape.All(k => k == 1) && site.InFeatures != site.OutFeatures;
            paths[site.Name] = downsample ? $"layer{stage}.{block}.downsample.0" : $"layer{stage}.{block}.conv{++inBlock}";
        }
        return paths;
    }
}
