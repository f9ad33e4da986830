using LoKO.Contracts.Rest;
using LoKO.Contracts.Validation;
using LoKO.Engine.Checkpoints;
using LoKO.Engine.Lora;
using LoKO.Engine.Models;
using LoKO.Engine.Peft;
using static TorchSharp.torch;

namespace LoKO.Server.Tenants;

/// <summary>A tenant's adapter (its safetensors export) rewritten as the zip of a PEFT LoRA adapter on the same base.</summary>
public static class PeftExport
{
    public static byte[] Zip(BaseModel model, TenantResponse tenant, byte[] safetensors)
    {
        using var scope = NewDisposeScope();
        var theta = SafetensorsCodec.Read(new MemoryStream(safetensors)).Tensors["theta"];
        var alpha = tenant.Lora.Alpha!.Value;
        var layout = model.Layout(new LoraOptions { Rank = tenant.Lora.Rank!.Value, Alpha = alpha, Targets = tenant.Lora.Targets }, tenant.Labels.Count);
        try
        {
            var peft = PeftBase.For(model);
            return PeftArchive.Write(PeftAdapter.Config(peft, layout, alpha), PeftAdapter.Tensors(peft, layout, theta));
        }
        catch (PeftFormatException e)
        {
            throw new FieldValidationException(e.Field, e.Message);
        }
    }
}
