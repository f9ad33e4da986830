using System.Globalization;
using LoKO.Engine.Filter;

namespace LoKO.Bench.Online;

/// <summary>
/// `--optimizers` names for the filter: `loko` (the default variant), `loko:NAME` (a named variant) and
/// `loko:NAME/key=value/…`, a variant with settings overridden, e.g. `loko:paper/beta=0.9` or
/// `loko:natural/reversion=0.999/dv=0.3`. Keys are <see cref="LokoOptions"/>' properties (case-insensitive) or the
/// short names below.
/// </summary>
public static class LokoSpec
{
    static readonly Dictionary<string, string> Short = new(StringComparer.OrdinalIgnoreCase)
    {
        ["obs"] = nameof(LokoOptions.Observation), ["head"] = nameof(LokoOptions.Head), ["diag"] = nameof(LokoOptions.DiagonalObservation),
        ["form"] = nameof(LokoOptions.DiagonalForm), ["hv"] = nameof(LokoOptions.HeadPriorVariance), ["dv"] = nameof(LokoOptions.DiagonalPriorVariance),
        ["n0"] = nameof(LokoOptions.PriorExamples), ["gamma"] = nameof(LokoOptions.Reversion), ["hgamma"] = nameof(LokoOptions.HeadReversion), ["tau"] = nameof(LokoOptions.Temperature),
        ["tbeta"] = nameof(LokoOptions.TemperatureBeta), ["imq"] = nameof(LokoOptions.RobustScale),
        ["mean"] = nameof(LokoOptions.DiagonalMean), ["rscale"] = nameof(LokoOptions.RootScale),
    };

    public static (string Label, LokoOptions Options) Parse(string spec)
    {
        var parts = spec.Split('/');
        var head = parts[0].Split(':', 2);
        string variant = head.Length > 1 ? head[1] : LokoVariants.Default;
        var options = LokoVariants.Named(variant);
        foreach (var part in parts.Skip(1))
        {
            var kv = part.Split('=', 2);
            if (kv.Length != 2) throw new ArgumentException($"--optimizers: '{part}' in '{spec}' is not key=value");
            var name = Short.TryGetValue(kv[0], out var full) ? full : kv[0];
            var property = typeof(LokoOptions).GetProperties().FirstOrDefault(p => p.CanWrite && string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
                ?? throw new ArgumentException($"--optimizers: unknown filter setting '{kv[0]}' in '{spec}'");
            object value = property.PropertyType.IsEnum
                ? Enum.Parse(property.PropertyType, kv[1], ignoreCase: true)
                : Convert.ChangeType(kv[1], property.PropertyType, CultureInfo.InvariantCulture);
            // Records' init-only setters are ordinary setters to reflection: set it on a copy.
            options = options with { };
            property.SetValue(options, value);
        }
        options.Validate();
        string label = parts.Length == 1 ? $"loko {variant}" : $"loko {variant} {string.Join(" ", parts.Skip(1))}";
        return (label, options);
    }
}
