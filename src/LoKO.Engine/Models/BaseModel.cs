using LoKO.Engine.Lora;
using LoKO.Engine.Onnx;
using static TorchSharp.torch;

namespace LoKO.Engine.Models;

/// <summary>
/// A frozen ONNX graph executed with TorchSharp, loaded once and shared by every tenant. It exposes
/// the LoRA sites of the graph and a feature node where a tenant's head attaches.
/// </summary>
public sealed class BaseModel : IDisposable
{
    public BaseModel(string name, OnnxGraph graph, IInputEncoder encoder, IFeaturePooling pooling, long featureDim,
                     IReadOnlyList<string> defaultTargets, Device? device = null)
    {
        Name = name;
        Graph = graph;
        Encoder = encoder;
        Pooling = pooling;
        FeatureDim = featureDim;
        Executor = new GraphExecutor(graph, device);
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

    public EncodedInputs Encode(IReadOnlyList<ModelInput> batch) => Encoder.Encode(batch, Device);

    /// <summary>Pooled features [batch, FeatureDim]; with no adapter this is the base model's own output.</summary>
    public Tensor Features(EncodedInputs inputs, TenantAdapter? adapter = null)
    {
        var value = Executor.Run(inputs.Feeds, [Pooling.GraphValue], adapter)[Pooling.GraphValue];
        return Pooling.Pool(value, inputs);
    }

    /// <summary>The adapter's head outputs (logits or regression values), [batch, outputs].</summary>
    public Tensor Forward(EncodedInputs inputs, TenantAdapter adapter) => adapter.Head(Features(inputs, adapter));

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
