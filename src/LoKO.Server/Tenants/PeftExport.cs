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
        var (tensors, meta) = SafetensorsCodec.Read(new MemoryStream(safetensors));
        var theta = tensors["theta"];
        var alpha = tenant.Lora.Alpha!.Value;
        // The export's own labels: the head's classes when it was taken (an addition may still wait to grow it).
        int labels = System.Text.Json.JsonSerializer.Deserialize<List<string>>(meta["labels"])!.Count;
        var layout = model.Layout(new LoraOptions { Rank = tenant.Lora.Rank!.Value, Alpha = alpha, Targets = tenant.Lora.Targets }, labels);
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
