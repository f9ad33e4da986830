using LoKO.Contracts.Rest;
using LoKO.Engine.Lora;
using LoKO.Engine.Models;
using LoKO.Engine.Presets;

namespace LoKO.Server.Tenants;

/// <summary>A loaded base model as GET /v1/models and gRPC ListModels describe it.</summary>
public static class ModelDescription
{
    public static ModelResponse Of(BaseModel model, bool builtIn, string sha256) => new()
    {
        Name = model.Name,
        Modality = model.Modality == Modality.Text ? "text" : "image",
        BuiltIn = builtIn,
        Sha256 = sha256,
        Opset = model.Graph.Opset,
        MaxTokens = (model.Encoder as TextInputEncoder)?.MaxTokens,
        ImageSize = (model.Encoder as ImageInputEncoder)?.Size,
        Features = new ModelFeatures(model.Pooling.GraphValue, FeaturePoolings.NameOf(model.Pooling.Kind), model.FeatureDim),
        DefaultTargets = model.DefaultTargets,
        Sites = [.. model.Sites.Select(s => new ModelSite(s.Name, s.Kind.ToString(), s.InFeatures, s.OutFeatures,
            model.DefaultTargets.Any(t => SiteGlob.IsMatch(t, s.Name))))],
    };
}
