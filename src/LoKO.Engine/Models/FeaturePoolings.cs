namespace LoKO.Engine.Models;

/// <summary>Pooling kinds by the names settings and the APIs use ("mean", "cls", "globalAverage", "none").</summary>
public static class FeaturePoolings
{
    public static IReadOnlyList<string> Names { get; } = [.. Enum.GetValues<PoolingKind>().Select(NameOf)];

    public static string NameOf(PoolingKind kind) => kind switch
    {
        PoolingKind.GlobalAverage => "globalAverage",
        _ => kind.ToString().ToLowerInvariant(),
    };

    public static bool TryParse(string name, out PoolingKind kind)
    {
        foreach (var k in Enum.GetValues<PoolingKind>())
            if (string.Equals(NameOf(k), name, StringComparison.OrdinalIgnoreCase))
            {
                kind = k;
                return true;
            }
        kind = default;
        return false;
    }

    public static IFeaturePooling Create(PoolingKind kind, string graphValue) => kind switch
    {
        PoolingKind.Mean => new MaskedMeanPooling(graphValue),
        PoolingKind.Cls => new ClsPooling(graphValue),
        PoolingKind.GlobalAverage => new GlobalAveragePooling(graphValue),
        _ => new FlattenPooling(graphValue),
    };

    /// <summary>The kinds that fit a modality: token poolings need text (and its mask), spatial ones images.</summary>
    public static bool Fits(PoolingKind kind, Modality modality) => kind switch
    {
        PoolingKind.Mean or PoolingKind.Cls => modality == Modality.Text,
        PoolingKind.GlobalAverage => modality == Modality.Image,
        _ => true,
    };
}
