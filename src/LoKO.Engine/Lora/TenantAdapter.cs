using LoKO.Engine.Filter;
using LoKO.Engine.Onnx;
using LoKO.Engine.Optimizers;
using LoKO.Engine.Platform;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoKO.Engine.Lora;

/// <summary>
/// One tenant's trainable parameters: LoRA A and B of each selected site plus the task head, all views
/// of ONE flat leaf tensor θ. Plugged into the shared graph as a node hook, so the base stays frozen
/// and shared by every tenant.
/// </summary>
public sealed class TenantAdapter : INodeHook, IDisposable
{
    readonly Dictionary<int, LoraSite> _sitesByNode;

    public TenantAdapter(AdapterLayout layout, Tensor theta)
    {
        if (theta.dim() != 1 || theta.shape[0] != layout.Size)
            throw new ArgumentException($"θ must be a vector of {layout.Size} values, got shape [{string.Join(",", theta.shape)}]", nameof(theta));
        Layout = layout;
        // A Parameter takes over the tensor's handle, so θ is one from the start: optimizers
        // (the baselines) can then work on the very tensor the model reads.
        Theta = theta as Parameter ?? new Parameter(theta, requires_grad: true);
        _sitesByNode = layout.Sites.ToDictionary(s => s.Node.Index);
    }

    /// <summary>A fresh adapter: A Kaiming-uniform (as PEFT), B zero, head as a default Linear layer.</summary>
    public static TenantAdapter Initialise(AdapterLayout layout, long seed, Device? device = null)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator((ulong)seed);
        var theta = zeros(layout.Size, ScalarType.Float32);
        foreach (var site in layout.Sites)
        {
            var a = layout.Site(site.Name).A;
            // kaiming_uniform_(a=√5) gives bound = 1/√fan_in.
            double bound = 1.0 / Math.Sqrt(site.FanIn);
            theta.narrow(0, a.Offset, a.Length).copy_(rand(a.Length, generator: generator).Times(2 * bound).Minus(bound));
        }
        foreach (var s in new[] { layout.HeadWeight, layout.HeadBias })
            theta.narrow(0, s.Offset, s.Length).copy_(HeadValues(layout, s.Length, generator));
        var placed = (device is null ? theta : theta.to(device)).detach();
        // θ belongs to the adapter (disposed with it), not to whatever scope the caller is in.
        return new TenantAdapter(layout, placed.DetachFromDisposeScope());
    }

    /// <summary>A default Linear layer's initial head values: uniform in ±1/√features.</summary>
    static Tensor HeadValues(AdapterLayout layout, long count, Generator generator)
    {
        double bound = 1.0 / Math.Sqrt(layout.FeatureDim);
        return rand(count, generator: generator).Times(2 * bound).Minus(bound);
    }

    /// <summary>
    /// A new adapter with <paramref name="count"/> classes added to the head: every value of this one copied, the new
    /// rows initialised as a new adapter's head is (from <paramref name="seed"/>, so a replay rebuilds them exactly).
    /// This adapter is left as it is. The old classes' outputs are unchanged: each output reads only its own row.
    /// </summary>
    public (TenantAdapter Adapter, ClassGrowth Growth) WithClasses(int count, long seed)
    {
        using var scope = NewDisposeScope();
        var growth = new ClassGrowth(HeadBlock.Of(Layout), count);
        var generator = new Generator((ulong)seed);
        var weights = HeadValues(Layout, count * Layout.FeatureDim, generator);
        var bias = HeadValues(Layout, count, generator);
        var theta = growth.Widen(Theta.detach(), weights, bias).detach();
        return (new TenantAdapter(Layout.WithOutputs(Layout.Outputs + count), theta.DetachFromDisposeScope()), growth);
    }

    public AdapterLayout Layout { get; }
    /// <summary>θ: every trainable value, flat.</summary>
    public Parameter Theta { get; }

    public Tensor View(AdapterSegment segment) => Theta.narrow(0, segment.Offset, segment.Length).view(segment.Shape);

    /// <summary>Head outputs (logits or regression values) from pooled features.</summary>
    public Tensor Head(Tensor features) =>
        nn.functional.linear(features, View(Layout.HeadWeight), View(Layout.HeadBias));

    public bool Hooks(OnnxNode node) => _sitesByNode.ContainsKey(node.Index);

    public LoraSite SiteOf(OnnxNode node) => _sitesByNode[node.Index];

    public Tensor After(OnnxNode node, IReadOnlyList<Tensor?> inputs, Tensor output)
    {
        var site = _sitesByNode[node.Index];
        var (aSeg, bSeg) = Layout.Site(site.Name);
        var a = View(aSeg);
        var b = View(bSeg);
        var x = inputs[0]!;
        var delta = site.Kind switch
        {
            LoraSiteKind.MatMul => matmul(matmul(x, a.t()), b.t()),
            LoraSiteKind.Gemm => GemmDelta(node, x, a, b),
            LoraSiteKind.Conv => nn.functional.conv2d(site.Geometry!.Apply(x, a, null), b),
            _ => throw new InvalidOperationException(site.Kind.ToString()),
        };
        return output.Plus(delta.Times(Layout.Scale));
    }

    static Tensor GemmDelta(OnnxNode node, Tensor x, Tensor a, Tensor b)
    {
        if (node.Int("transA", 0) == 1) x = x.t();
        var delta = matmul(matmul(x, a.t()), b.t());
        float alpha = node.Float("alpha", 1f);
        return alpha == 1f ? delta : delta.Times(alpha);
    }

    public void Dispose() => Theta.Dispose();
}
