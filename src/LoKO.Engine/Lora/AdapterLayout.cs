namespace LoKO.Engine.Lora;

/// <summary>
/// Where every trainable value of an adapter lives inside the one flat vector θ: each selected site's
/// A [r, fan-in] and B [out, r], then the head's weight [outputs, features] and bias [outputs].
/// The filter sees only θ; the model sees views of it.
/// </summary>
public sealed class AdapterLayout
{
    readonly Dictionary<string, (AdapterSegment A, AdapterSegment B)> _bySite;

    AdapterLayout(IReadOnlyList<LoraSite> sites, int rank, double scale, long featureDim, int outputs)
    {
        Sites = sites;
        Rank = rank;
        Scale = scale;
        FeatureDim = featureDim;
        Outputs = outputs;
        var segments = new List<AdapterSegment>();
        long offset = 0;
        AdapterSegment Add(string name, params long[] shape)
        {
            var s = new AdapterSegment(name, offset, shape);
            segments.Add(s);
            offset += s.Length;
            return s;
        }
        _bySite = [];
        foreach (var site in sites)
        {
            long[] aShape = site.Kind == LoraSiteKind.Conv ? [rank, site.InFeatures, .. site.KernelShape] : [rank, site.InFeatures];
            long[] bShape = site.Kind == LoraSiteKind.Conv ? [site.OutFeatures, rank, 1, 1] : [site.OutFeatures, rank];
            _bySite[site.Name] = (Add($"lora.{site.Name}.A", aShape), Add($"lora.{site.Name}.B", bShape));
        }
        HeadWeight = Add("head.weight", outputs, featureDim);
        HeadBias = Add("head.bias", outputs);
        Segments = segments;
        Size = offset;
    }

    public static AdapterLayout Create(IReadOnlyList<LoraSite> sites, LoraOptions lora, long featureDim, int outputs)
    {
        lora.Validate();
        if (outputs < 1) throw new ArgumentOutOfRangeException(nameof(outputs), outputs, "the head needs at least one output");
        return new AdapterLayout(sites, lora.Rank, lora.Scale, featureDim, outputs);
    }

    /// <summary>The same sites and head features with <paramref name="outputs"/> head outputs (classes added to a live head).</summary>
    public AdapterLayout WithOutputs(int outputs)
    {
        if (outputs < 1) throw new ArgumentOutOfRangeException(nameof(outputs), outputs, "the head needs at least one output");
        return new AdapterLayout(Sites, Rank, Scale, FeatureDim, outputs);
    }

    public IReadOnlyList<LoraSite> Sites { get; }
    public int Rank { get; }
    /// <summary>α / r, multiplying every site's B·A.</summary>
    public double Scale { get; }
    public long FeatureDim { get; }
    public int Outputs { get; }
    public IReadOnlyList<AdapterSegment> Segments { get; }
    public AdapterSegment HeadWeight { get; }
    public AdapterSegment HeadBias { get; }
    /// <summary>n, the length of θ.</summary>
    public long Size { get; }

    public (AdapterSegment A, AdapterSegment B) Site(string name) => _bySite[name];
}
