using LoKO.Engine.Lora;
using LoKO.Engine.Onnx;
using LoKO.Engine.Optimizers;
using static TorchSharp.torch;

namespace LoKO.Engine.Models;

/// <summary>
/// A frozen ONNX graph executed with TorchSharp, loaded once and shared by every tenant. It exposes
/// the LoRA sites of the graph and a feature node where a tenant's head attaches.
/// </summary>
public sealed class BaseModel : IDisposable
{
    public BaseModel(string name, OnnxGraph graph, IInputEncoder encoder, IFeaturePooling pooling, long featureDim,
                     IReadOnlyList<string> defaultTargets, Device? device = null, bool fuse = true)
    {
        Name = name;
        Graph = graph;
        Encoder = encoder;
        Pooling = pooling;
        FeatureDim = featureDim;
        Executor = new GraphExecutor(graph, device, fuse);
        Sites = LoraSiteFinder.Find(graph);
        DefaultTargets = defaultTargets;
    }

    public string Name { get; }
    public OnnxGraph Graph { get; }
    public GraphExecutor Executor { get; }
    public IInputEncoder Encoder { get; }
    public IFeaturePooling Pooling { get; }
    public Modality Modality => Encoder.Modality;
    public long FeatureDim { get; }
    public Device Device => Executor.Device;
    public IReadOnlyList<LoraSite> Sites { get; }
    /// <summary>Site globs used when a tenant names none.</summary>
    public IReadOnlyList<string> DefaultTargets { get; }

    /// <summary>The layout of a new adapter on this model: selected sites, rank, and a head with <paramref name="outputs"/> outputs.</summary>
    public AdapterLayout Layout(LoraOptions lora, int outputs) =>
        AdapterLayout.Create(SiteGlob.Select(Sites, lora.Targets ?? DefaultTargets), lora, FeatureDim, outputs);

    public TenantAdapter CreateAdapter(LoraOptions lora, int outputs, long seed) =>
        TenantAdapter.Initialise(Layout(lora, outputs), seed, Device);

    /// <summary>An adapter whose θ is zeros, for a checkpoint that holds all of θ to fill: no initialisation drawn only to be overwritten.</summary>
    public TenantAdapter EmptyAdapter(LoraOptions lora, int outputs)
    {
        var layout = Layout(lora, outputs);
        return new TenantAdapter(layout, zeros(layout.Size, ScalarType.Float32, Device).DetachFromDisposeScope());
    }

    public EncodedInputs Encode(IReadOnlyList<ModelInput> batch) => Encoder.Encode(batch, Device);

    /// <summary>Pooled features [batch, FeatureDim]; with no adapter this is the base model's own output.</summary>
    public Tensor Features(EncodedInputs inputs, TenantAdapter? adapter = null)
    {
        var value = Executor.Run(inputs.Feeds, [Pooling.GraphValue], adapter)[Pooling.GraphValue];
        return Pooling.Pool(value, inputs);
    }

    /// <summary>The adapter's head outputs (logits or regression values), [batch, outputs].</summary>
    public Tensor Forward(EncodedInputs inputs, TenantAdapter adapter) => adapter.Head(Features(inputs, adapter));

    /// <summary>
    /// Head outputs [K, outputs] of K copies of a single example, copy k with the adapter values in row k
    /// of <paramref name="rows"/> [K, n] (see <see cref="AdapterCopies"/>).
    /// </summary>
    public Tensor ForwardCopies(EncodedInputs inputs, TenantAdapter adapter, Tensor rows) =>
        new AdapterCopies(adapter, rows).Head(FeatureCopies(inputs, adapter, rows));

    /// <summary>Pooled features [K, FeatureDim] of K copies of a single example (as <see cref="ForwardCopies"/>, before the head).</summary>
    public Tensor FeatureCopies(EncodedInputs inputs, TenantAdapter adapter, Tensor rows)
    {
        if (inputs.Batch != 1) throw new ArgumentException($"copies run one example, got a batch of {inputs.Batch}", nameof(inputs));
        var features = RunCopies(inputs, adapter, rows);
        return features.shape[0] == rows.shape[0] ? features : features.expand(rows.shape[0], features.shape[1]);
    }

    /// <summary>
    /// Pooled features [K, FeatureDim] of K examples, example k through the adapter values in row k of
    /// <paramref name="rows"/> ([K, n], or the LoRA block alone: see <see cref="AdapterCopies"/>). Padded text rows
    /// are masked, so each row's features are those of its example run alone.
    /// </summary>
    public Tensor FeatureRows(EncodedInputs inputs, TenantAdapter adapter, Tensor rows)
    {
        if (inputs.Batch != rows.shape[0]) throw new ArgumentException($"{rows.shape[0]} rows need as many examples, got a batch of {inputs.Batch}", nameof(inputs));
        return adapter.Layout.Sites.Count == 0 ? Features(inputs) : RunCopies(inputs, adapter, rows);
    }

    Tensor RunCopies(EncodedInputs inputs, TenantAdapter adapter, Tensor rows)
    {
        var copies = new AdapterCopies(adapter, rows);
        var value = Executor.Run(inputs.Feeds, [Pooling.GraphValue], copies)[Pooling.GraphValue];
        return Pooling.Pool(value, inputs);
    }

    /// <summary>The forward pass an optimizer steps with; it offers per-copy runs for single examples where the adapter allows.</summary>
    public ForwardPass Pass(EncodedInputs inputs, TenantAdapter adapter)
    {
        bool copies = inputs.Batch == 1 && CopiesPay(adapter.Layout);
        return new(() => Forward(inputs, adapter), copies ? rows => ForwardCopies(inputs, adapter, rows) : null, adapter.Layout.Outputs)
        {
            Features = () => Features(inputs, adapter),
            FeatureCopies = copies ? rows => FeatureCopies(inputs, adapter, rows) : null,
        };
    }

    /// <summary>
    /// Whether per-copy runs beat sequential reverse passes for this layout. On a GPU the batch is nearly free.
    /// On a CPU the arithmetic is the same either way, so copies pay only by skipping the shared prefix before
    /// the first adapted node: measured, ResNet18 with stage-4 sites 2.2× faster at C = 10, MiniLM with sites
    /// from layer 0 1.2× slower at C = 8.
    /// </summary>
    public bool CopiesPay(AdapterLayout layout)
    {
        if (!AdapterCopies.Supports(layout) || layout.Sites.Count == 0) return false;
        if (Device.type == TorchSharp.DeviceType.CUDA) return true;
        int first = layout.Sites.Min(s => s.Node.Index);
        return first >= Graph.Nodes.Count / 2;
    }

    /// <summary>As <see cref="Pass(EncodedInputs, TenantAdapter)"/>, encoding the inputs on each call, so the pass may be kept and run later.</summary>
    public ForwardPass Pass(IReadOnlyList<ModelInput> batch, TenantAdapter adapter)
    {
        bool copies = batch.Count == 1 && CopiesPay(adapter.Layout);
        Func<Tensor> Encoded(Func<EncodedInputs, Tensor> run) => () =>
        {
            using var inputs = Encode(batch);
            return run(inputs);
        };
        Func<Tensor, Tensor>? EncodedCopies(Func<EncodedInputs, Tensor, Tensor> run) => copies ? rows =>
        {
            using var inputs = Encode(batch);
            return run(inputs, rows);
        } : null;
        return new(Encoded(inputs => Forward(inputs, adapter)), EncodedCopies((inputs, rows) => ForwardCopies(inputs, adapter, rows)), adapter.Layout.Outputs)
        {
            Features = Encoded(inputs => Features(inputs, adapter)),
            FeatureCopies = EncodedCopies((inputs, rows) => FeatureCopies(inputs, adapter, rows)),
        };
    }

    public Tensor Forward(IReadOnlyList<ModelInput> batch, TenantAdapter adapter)
    {
        using var inputs = Encode(batch);
        return Forward(inputs, adapter);
    }

    public void Dispose()
    {
        Executor.Dispose();
        Graph.Dispose();
    }
}
