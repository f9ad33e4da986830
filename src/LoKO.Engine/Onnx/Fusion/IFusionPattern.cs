namespace LoKO.Engine.Onnx.Fusion;

/// <summary>A multi-node pattern an exporter emits for one torch op, recognised from one of its nodes.</summary>
internal interface IFusionPattern
{
    FusedGroup? Match(OnnxNode node, FusionScope scope);
}
