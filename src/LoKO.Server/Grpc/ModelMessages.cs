using Rest = LoKO.Contracts.Rest;
using V1 = LoKO.Contracts.V1;

namespace LoKO.Server.Grpc;

/// <summary>A model description (GET /v1/models) as gRPC's <see cref="V1.Model"/>.</summary>
public static class ModelMessages
{
    public static V1.Model ToProto(Rest.ModelResponse m)
    {
        var proto = new V1.Model
        {
            Name = m.Name, Modality = m.Modality, BuiltIn = m.BuiltIn, Sha256 = m.Sha256, Opset = m.Opset,
            MaxTokens = m.MaxTokens ?? 0, ImageSize = m.ImageSize ?? 0,
            FeatureNode = m.Features.Node, Pooling = m.Features.Pooling, FeatureDim = m.Features.Dim,
        };
        proto.DefaultTargets.AddRange(m.DefaultTargets);
        proto.Sites.AddRange(m.Sites.Select(s => new V1.ModelSite
        {
            Name = s.Name, Kind = s.Kind, InFeatures = s.InFeatures, OutFeatures = s.OutFeatures, ByDefault = s.ByDefault,
        }));
        return proto;
    }
}
