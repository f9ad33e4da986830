using System.Globalization;
using LoKO.Contracts.Rest;
using LoKO.Contracts.Validation;
using LoKO.Engine.Lora;
using LoKO.Engine.Models;
using LoKO.Engine.Peft;
using static TorchSharp.torch;

namespace LoKO.Server.Tenants;

/// <summary>The LoRA settings and initial θ of a tenant created from a PEFT adapter zip, checked against its base model and labels.</summary>
public sealed record PeftImport(LoraSettings Lora, float[] Theta)
{
    /// <summary>The largest rank a tenant may have (as lora.rank at creation).</summary>
    const int MaxRank = 256;

    public static PeftImport Prepare(BaseModel model, CreateTenantRequest request)
    {
        try
        {
            var (config, tensors) = PeftArchive.Read(request.Adapter!);
            try
            {
                return Prepare(model, request, config, tensors);
            }
            finally
            {
                foreach (var t in tensors.Values) t.Dispose();
            }
        }
        catch (PeftFormatException e)
        {
            throw new FieldValidationException(e.Field, e.Message);
        }
    }

    static PeftImport Prepare(BaseModel model, CreateTenantRequest request, PeftConfig config, Dictionary<string, Tensor> tensors)
    {
        if (config.Rank > MaxRank)
            throw new FieldValidationException($"adapter.{PeftConfig.FileName}.r", $"must be at most {MaxRank}, not {config.Rank}");
        var peft = PeftBase.For(model);
        var sites = peft.Select(model.Sites, config.TargetModules);

        var errors = new List<FieldError>();
        if (request.Lora?.Rank is { } rank && rank != config.Rank)
            errors.Add(new("lora.rank", $"is {rank}, but the adapter's r is {config.Rank}"));
        if (request.Lora?.Alpha is { } alpha && alpha != config.Alpha)
            errors.Add(new("lora.alpha", $"is {alpha.ToString(CultureInfo.InvariantCulture)}, but the adapter's lora_alpha is {config.Alpha.ToString(CultureInfo.InvariantCulture)}"));
        if (request.Lora?.Targets is { } targets)
        {
            IReadOnlyList<LoraSite> chosen;
            try { chosen = SiteGlob.Select(model.Sites, targets); }
            catch (ArgumentException e) { throw new FieldValidationException("lora.targets", e.Message); }
            if (!chosen.Select(s => s.Name).SequenceEqual(sites.Select(s => s.Name)))
                errors.Add(new("lora.targets", $"select {chosen.Count} sites, not the {sites.Count} modules the adapter's target_modules name"));
        }
        var headKey = PeftAdapter.HeadKey(peft, "weight");
        int labels = request.Labels!.Count;
        if (tensors.TryGetValue(headKey, out var head) && head.dim() == 2 && head.shape[0] != labels)
            errors.Add(new("labels", $"names {labels} labels, but the adapter's head '{headKey}' has {head.shape[0]} rows"));
        if (errors.Count > 0) throw new FieldValidationException(errors);

        var lora = new LoraSettings { Rank = config.Rank, Alpha = config.Alpha, Targets = [.. sites.Select(s => s.Name)] };
        var layout = model.Layout(new LoraOptions { Rank = config.Rank, Alpha = config.Alpha, Targets = lora.Targets }, labels);
        using var theta = PeftAdapter.Theta(peft, layout, tensors);
        return new PeftImport(lora, theta.data<float>().ToArray());
    }
}
