using LoKO.Engine.Onnx.Ops;
using LoKO.Engine.Onnx;
using LoKO.Engine.Platform;
using static TorchSharp.torch;

namespace LoKO.Engine.Lora;

/// <summary>
/// K copies of one adapter layout run side by side: copy k reads every LoRA (and head) value from row k of a
/// [K, n] tensor. On one example the graph runs once at batch 1 up to the first adapted node, which widens the
/// batch to K; on a batch of K examples (example k for copy k, e.g. K tenants' steps) every value is K wide
/// already. From the first adapted node on each copy's LoRA term uses its own A and B (batched matmuls, or
/// convolutions grouped by copy). Backpropagating Σ_k f_k(copy k) then gives row k the gradient of f_k alone.
/// Rows may hold the LoRA block alone (the first <see cref="AdapterLayout.HeadWeight"/>.Offset values), which
/// every layout with the same sites, rank and scale shares whatever its head: then each copy applies its own head.
/// </summary>
public sealed class AdapterCopies : INodeHook
{
    readonly TenantAdapter _adapter;
    readonly Tensor _rows;
    readonly long _copies;
    // The rows split once into their segments, by offset: one split's backward is one concatenation, where a narrow per
    // segment made each segment's gradient a zero-filled [K, n] (64 copies of ResNet18's last stage: most of the pass).
    readonly Dictionary<long, Tensor> _pieces;

    public AdapterCopies(TenantAdapter adapter, Tensor rows)
    {
        long lora = adapter.Layout.HeadWeight.Offset;
        if (rows.dim() != 2 || (rows.shape[1] != adapter.Layout.Size && rows.shape[1] != lora))
            throw new ArgumentException($"copies must be [K, {adapter.Layout.Size}] or, the LoRA block alone, [K, {lora}], got [{string.Join(",", rows.shape)}]", nameof(rows));
        _adapter = adapter;
        _rows = rows;
        _copies = rows.shape[0];
        // The layout lays its segments end to end from 0; rows of the LoRA block alone end where the head's begin.
        var segments = adapter.Layout.Segments.Where(seg => seg.Offset + seg.Length <= rows.shape[1]).ToList();
        var parts = rows.split([.. segments.Select(seg => seg.Length)], 1);
        _pieces = segments.Zip(parts).ToDictionary(p => p.First.Offset, p => p.Second);
    }

    /// <summary>Whether every selected site can run per copy (grouped convolutions and transposed Gemm inputs cannot).</summary>
    public static bool Supports(AdapterLayout layout) => layout.Sites.All(s => s.Kind switch
    {
        LoraSiteKind.Conv => s.Geometry!.Group == 1,
        LoraSiteKind.Gemm => s.Node.Int("transA", 0) == 0,
        _ => true,
    });

    public string ShapeKey => $"copies:{_copies}";

    public bool Hooks(OnnxNode node) => _adapter.Hooks(node);

    /// <summary>Per-copy view of one segment: [K, segment shape…].</summary>
    Tensor View(AdapterSegment segment) => _pieces[segment.Offset].view([_copies, .. segment.Shape]);

    public Tensor After(OnnxNode node, IReadOnlyList<Tensor?> inputs, Tensor output)
    {
        var site = _adapter.SiteOf(node);
        var (aSeg, bSeg) = _adapter.Layout.Site(site.Name);
        var a = View(aSeg);
        var b = View(bSeg);
        var x = Widen(inputs[0]!);
        output = Widen(output);
        var delta = site.Kind switch
        {
            LoraSiteKind.MatMul => LinearDelta(x, a, b),
            LoraSiteKind.Gemm => LinearDelta(x, a, b).Times(node.Float("alpha", 1f)),
            LoraSiteKind.Conv => ConvDelta(site, x, a, b),
            _ => throw new InvalidOperationException(site.Kind.ToString()),
        };
        return output.Plus(delta.Times(_adapter.Layout.Scale));
    }

    /// <summary>Head outputs [K, outputs] from features [K or 1, features].</summary>
    public Tensor Head(Tensor features)
    {
        if (_rows.shape[1] != _adapter.Layout.Size) throw new InvalidOperationException("these rows hold the LoRA block alone: each copy applies its own head");
        var w = View(_adapter.Layout.HeadWeight);
        var bias = View(_adapter.Layout.HeadBias);
        return bmm(w, Widen(features).unsqueeze(2)).squeeze(2).Plus(bias);
    }

    /// <summary>A batch-1 value (still shared by every copy) broadcast to K copies; wider values pass through.</summary>
    Tensor Widen(Tensor t) => t.shape[0] == 1 && _copies > 1 ? t.expand([_copies, .. t.shape[1..]]) : t;

    /// <summary>x [K, …, d] · Aₖᵀ · Bₖᵀ per copy.</summary>
    static Tensor LinearDelta(Tensor x, Tensor a, Tensor b)
    {
        long k = x.shape[0];
        var flat = x.reshape(k, -1, x.shape[^1]);
        var delta = bmm(bmm(flat, a.transpose(1, 2)), b.transpose(1, 2));
        return delta.reshape([.. x.shape[..^1], b.shape[1]]);
    }

    /// <summary>
    /// Elements of the unfolded patches [K, C·kh·kw, L] up to which A runs as one batched product over them: a convolution
    /// grouped by copy reorders its K·r·C·kh·kw weight at every call and in its backward (64 copies of ResNet18's last
    /// stage: 10 ms a call), while the patches of a small output are cheap.
    /// </summary>
    const long MaxUnfoldedElements = 1L << 24;

    /// <summary>A and B per copy: over unfolded patches where they are small (<see cref="MaxUnfoldedElements"/>), else as convolutions grouped by copy.</summary>
    static Tensor ConvDelta(LoraSite site, Tensor x, Tensor a, Tensor b) =>
        x.dim() == 4 && UnfoldedDelta(site.Geometry!, x, a, b) is { } delta ? delta : GroupedDelta(site.Geometry!, x, a, b);

    /// <summary>x [K, C, H, W] unfolded to [K, C·kh·kw, L]; Aₖ [r, C·kh·kw] and Bₖ [Cout, r] as batched products. Null where the patches are too many.</summary>
    internal static Tensor? UnfoldedDelta(ConvGeometry geometry, Tensor x, Tensor a, Tensor b)
    {
        if (a.dim() != 5 || b.dim() != 5 || b.shape[3] != 1 || b.shape[4] != 1) return null;
        long k = x.shape[0], c = x.shape[1], kh = a.shape[^2], kw = a.shape[^1];
        long[] pads = geometry.ResolvePads(x.shape[2..], [kh, kw]);
        if (pads[0] != pads[2] || pads[1] != pads[3]) return null;
        long ho = (x.shape[2] + 2 * pads[0] - geometry.Dilations[0] * (kh - 1) - 1) / geometry.Strides[0] + 1;
        long wo = (x.shape[3] + 2 * pads[1] - geometry.Dilations[1] * (kw - 1) - 1) / geometry.Strides[1] + 1;
        if (ho <= 0 || wo <= 0 || k * c * kh * kw * ho * wo > MaxUnfoldedElements) return null;
        var patches = nn.functional.unfold(x, (kh, kw), (geometry.Dilations[0], geometry.Dilations[1]), (pads[0], pads[1]), (geometry.Strides[0], geometry.Strides[1]));
        var ax = bmm(a.reshape(k, a.shape[1], -1), patches);
        var bax = bmm(b.reshape(k, b.shape[1], b.shape[2]), ax);
        return bax.reshape(k, b.shape[1], ho, wo);
    }

    /// <summary>The copies stacked along channels, A and B as convolutions grouped by copy.</summary>
    internal static Tensor GroupedDelta(ConvGeometry geometry, Tensor x, Tensor a, Tensor b)
    {
        long k = x.shape[0];
        var stacked = x.reshape([1, k * x.shape[1], .. x.shape[2..]]);
        var aw = a.reshape([k * a.shape[1], .. a.shape[2..]]);
        var ax = (geometry with { Group = k }).Apply(stacked, aw, null);
        var bw = b.reshape([k * b.shape[1], .. b.shape[2..]]);
        var bax = nn.functional.conv2d(ax, bw, groups: k);
        return bax.reshape([k, b.shape[1], .. bax.shape[2..]]);
    }
}
