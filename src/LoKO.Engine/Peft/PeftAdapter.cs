using LoKO.Engine.Lora;
using static TorchSharp.torch;

namespace LoKO.Engine.Peft;

/// <summary>
/// θ ↔ the tensors PEFT saves. Our A [r, in(, kh, kw)] and B [out, r(, 1, 1)] are PEFT's lora_A and lora_B as
/// they are, and both scale B·A by α/r: a MatMul site's delta x·Aᵀ·Bᵀ is the Linear delta (B·A)·x, whatever way
/// round ONNX stores the frozen weight. The head is saved in full as a Linear (modules_to_save).
/// </summary>
public static class PeftAdapter
{
    public static string LoraKey(string modulePath, char piece) => $"{PeftBase.KeyPrefix}{modulePath}.lora_{piece}.weight";

    public static string HeadKey(PeftBase peft, string parameter) => $"{PeftBase.KeyPrefix}{peft.HeadModule}.{parameter}";

    public static PeftConfig Config(PeftBase peft, AdapterLayout layout, double alpha) =>
        new(layout.Rank, alpha, [.. layout.Sites.Select(s => Path(peft, s))], [peft.HeadModule], peft.BaseModelName, peft.TaskType);

    /// <summary>Every saved tensor by its PEFT key: views of <paramref name="theta"/>.</summary>
    public static Dictionary<string, Tensor> Tensors(PeftBase peft, AdapterLayout layout, Tensor theta)
    {
        Tensor View(AdapterSegment s) => theta.narrow(0, s.Offset, s.Length).view(s.Shape);
        var tensors = new Dictionary<string, Tensor>();
        foreach (var site in layout.Sites)
        {
            var path = Path(peft, site);
            var (a, b) = layout.Site(site.Name);
            tensors[LoraKey(path, 'A')] = View(a);
            tensors[LoraKey(path, 'B')] = View(b);
        }
        tensors[HeadKey(peft, "weight")] = View(layout.HeadWeight);
        tensors[HeadKey(peft, "bias")] = View(layout.HeadBias);
        return tensors;
    }

    /// <summary>
    /// θ for <paramref name="layout"/> from saved tensors: every key must be there with its exact shape, and no
    /// other key (PEFT loads non-strictly, so a stray or misnamed key would otherwise be silently dropped).
    /// </summary>
    public static Tensor Theta(PeftBase peft, AdapterLayout layout, IReadOnlyDictionary<string, Tensor> saved)
    {
        var expected = new List<(string Key, AdapterSegment Segment)>();
        foreach (var site in layout.Sites)
        {
            var path = Path(peft, site);
            var (a, b) = layout.Site(site.Name);
            expected.Add((LoraKey(path, 'A'), a));
            expected.Add((LoraKey(path, 'B'), b));
        }
        expected.Add((HeadKey(peft, "weight"), layout.HeadWeight));
        expected.Add((HeadKey(peft, "bias"), layout.HeadBias));

        var known = expected.Select(e => e.Key).ToHashSet();
        if (saved.Keys.FirstOrDefault(k => !known.Contains(k)) is { } stray)
            throw new PeftFormatException($"adapter.{PeftArchive.WeightsFileName}",
                $"holds '{stray}', which is no LoRA piece of the target modules and not the head '{peft.HeadModule}'");

        var theta = zeros(layout.Size, ScalarType.Float32);
        foreach (var (key, segment) in expected)
        {
            var field = $"adapter.{PeftArchive.WeightsFileName}.{key}";
            if (!saved.TryGetValue(key, out var t)) throw new PeftFormatException(field, "is missing");
            if (!t.shape.SequenceEqual(segment.Shape))
                throw new PeftFormatException(field, $"has shape [{string.Join(", ", t.shape)}], expected [{string.Join(", ", segment.Shape)}]");
            if (!t.is_floating_point()) throw new PeftFormatException(field, $"must hold floating-point values, not {t.dtype}");
            using var values = t.to(ScalarType.Float32).reshape(-1);
            if (!values.isfinite().all().item<bool>()) throw new PeftFormatException(field, "holds a non-finite value");
            theta.narrow(0, segment.Offset, segment.Length).copy_(values);
        }
        return theta;
    }

    /// <summary>The module path of a site whose delta PEFT computes the same way; an error naming any other.</summary>
    static string Path(PeftBase peft, LoraSite site)
    {
        // A Gemm scales its product by alpha and may transpose x: PEFT's Linear LoRA does neither.
        if (site.Kind == LoraSiteKind.Gemm && (site.Node.Float("alpha", 1f) != 1f || site.Node.Int("transA", 0) != 0))
            throw new PeftFormatException("format", $"LoRA site '{site.Name}' is a Gemm with alpha ≠ 1 or transA, which PEFT's LoRA cannot express");
        return peft.PathOf(site);
    }
}
