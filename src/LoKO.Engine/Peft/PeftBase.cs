using System.Text.RegularExpressions;
using LoKO.Engine.Lora;
using LoKO.Engine.Models;
using LoKO.Engine.Presets;

namespace LoKO.Engine.Peft;

/// <summary>
/// What a PEFT adapter says about the base model it belongs to: the Hugging Face name of the base, the task,
/// the module each LoRA site is, and the module name under which our head is saved in full.
/// </summary>
public sealed partial record PeftBase(string? BaseModelName, string? TaskType, string HeadModule, IReadOnlyDictionary<string, string> ModulePaths)
{
    /// <summary>Where PEFT's saved keys start: a PeftModel's `base_model` (LoraModel) wraps the user's `model`.</summary>
    public const string KeyPrefix = "base_model.model.";

    public static PeftBase For(BaseModel model) => model.Name switch
    {
        // A bare BertModel (AutoModel): its modules have no `bert.` prefix.
        ModelPresets.MiniLmL6 => new("sentence-transformers/all-MiniLM-L6-v2", "FEATURE_EXTRACTION", "classifier", NamedPaths(model.Sites)),
        // torchvision's ResNet calls its classifier `fc`; our head takes fc's place on the pooled last stage.
        ModelPresets.ResNet18 => new(null, null, "fc", ResNetModulePaths.Of(model.Graph, model.Sites)),
        _ => new(null, null, "classifier", NamedPaths(model.Sites)),
    };

    /// <summary>The module path of a site, or an error naming the site when it has none.</summary>
    public string PathOf(LoraSite site) =>
        ModulePaths.TryGetValue(site.Name, out var path)
            ? path
            : throw new PeftFormatException("format",
                $"LoRA site '{site.Name}' has no Hugging Face module path (its ONNX weight '{site.WeightName}' carries no PyTorch parameter name), so the adapter cannot be written in PEFT format");

    /// <summary>
    /// The sites a config's target_modules select, in graph order, as PEFT matches them: a target is a module's
    /// path or a `.`-suffix of it. A target that selects no site is an error naming it.
    /// </summary>
    public IReadOnlyList<LoraSite> Select(IReadOnlyList<LoraSite> sites, IReadOnlyList<string> targets)
    {
        bool Matches(string target, LoraSite site) =>
            ModulePaths.TryGetValue(site.Name, out var path) && (path == target || path.EndsWith("." + target, StringComparison.Ordinal));
        foreach (var target in targets)
            if (!sites.Any(s => Matches(target, s)))
                throw new PeftFormatException($"adapter.{PeftConfig.FileName}.target_modules",
                    $"'{target}' is no LoRA site of this base model; its modules are e.g. {string.Join(", ", ModulePaths.Values.Take(4))}");
        return [.. sites.Where(s => targets.Any(t => Matches(t, s)))];
    }

    /// <summary>
    /// Sites named after a PyTorch parameter (`encoder.layer.0.attention.self.query` from its `.bias`, or a
    /// `….weight` initializer) already carry their module path; sites named after an anonymous ONNX weight do not.
    /// </summary>
    static Dictionary<string, string> NamedPaths(IReadOnlyList<LoraSite> sites) =>
        sites.Where(s => (s.Name != s.WeightName || s.WeightName.EndsWith(".weight", StringComparison.Ordinal)) && ModulePath().IsMatch(s.Name))
             .ToDictionary(s => s.Name, s => s.Name);

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")]
    private static partial Regex ModulePath();
}
