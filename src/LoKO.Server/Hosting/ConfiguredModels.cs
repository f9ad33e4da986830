using System.Text.RegularExpressions;
using LoKO.Engine.Models;
using LoKO.Engine.Presets;

namespace LoKO.Server.Hosting;

/// <summary>
/// The models of the "LoKO:Models" section as engine <see cref="ModelSpec"/>s. A setting that cannot be one is an
/// <see cref="InvalidSettingException"/> naming its key (LoKO:Models:&lt;name&gt;:&lt;Key&gt;).
/// </summary>
public static partial class ConfiguredModels
{
    public static string Key(string name, string? setting = null) =>
        setting is null ? $"{LoKOOptions.Section}:Models:{name}" : $"{LoKOOptions.Section}:Models:{name}:{setting}";

    /// <summary>In name order; <paramref name="section"/> (the "LoKO" section) catches what binding silently drops.</summary>
    public static IReadOnlyList<ModelSpec> Specs(LoKOOptions options, IConfiguration section) =>
        [.. options.Models.OrderBy(m => m.Key, StringComparer.Ordinal).Select(m => Spec(m.Key, m.Value, section.GetSection($"Models:{m.Key}")))];

    static ModelSpec Spec(string name, ModelOptions o, IConfigurationSection raw)
    {
        if (!ModelName().IsMatch(name))
            throw new InvalidSettingException(Key(name), "a model name is 1–64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit");
        if (ModelPresets.Names.Contains(name))
            throw new InvalidSettingException(Key(name), $"'{name}' is a built-in preset; register the file under another name");
        if (string.IsNullOrWhiteSpace(o.Path)) throw new InvalidSettingException(Key(name, "Path"), "is required: the ONNX file");

        bool text = !string.IsNullOrWhiteSpace(o.Vocab), image = o.Image is not null;
        if (text && image) throw new InvalidSettingException(Key(name, "Image"), "a model takes text (Vocab) or images (Image), not both");
        if (!text && !image)
            throw new InvalidSettingException(Key(name, "Vocab"),
                "is required for a text model (its WordPiece vocabulary); an image model sets Image (Size, Mean, Std) instead");
        var modality = text ? Modality.Text : Modality.Image;

        if (string.IsNullOrWhiteSpace(o.Features?.Node))
            throw new InvalidSettingException(Key(name, "Features:Node"), "is required: the graph value (a node's output) the features are read from");
        var pooling = text ? PoolingKind.Mean : PoolingKind.GlobalAverage;
        if (!string.IsNullOrWhiteSpace(o.Features.Pooling) && !FeaturePoolings.TryParse(o.Features.Pooling, out pooling))
            throw new InvalidSettingException(Key(name, "Features:Pooling"), $"'{o.Features.Pooling}' is not one of {string.Join(", ", FeaturePoolings.Names)}");

        // Binding ignores a plain value where a list belongs; say so rather than serve the default sites.
        foreach (var list in (string[])["Targets", "Image:Mean", "Image:Std"])
            if (!string.IsNullOrEmpty(raw[list]))
                throw new InvalidSettingException(Key(name, list), $"takes a list ({list}:0, {list}:1, … or a JSON array), not the single value '{raw[list]}'");
        if (o.Targets?.FirstOrDefault(string.IsNullOrWhiteSpace) is not null)
            throw new InvalidSettingException(Key(name, "Targets"), "a site glob is empty");

        return new ModelSpec
        {
            Name = name,
            Path = System.IO.Path.GetFullPath(o.Path),
            Modality = modality,
            Vocab = text ? System.IO.Path.GetFullPath(o.Vocab!) : null,
            Image = image ? new ImageSpec { Size = o.Image!.Size, Mean = o.Image.Mean ?? [0f, 0f, 0f], Std = o.Image.Std ?? [1f, 1f, 1f] } : new ImageSpec(),
            FeatureNode = o.Features.Node,
            Pooling = pooling,
            Targets = o.Targets,
        };
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,63}$")]
    private static partial Regex ModelName();
}
