using System.Globalization;

namespace LoKO.Bench;

/// <summary>`--name value` pairs after the command; unknown or malformed options are errors, not silently ignored.</summary>
public sealed class BenchArgs
{
    readonly Dictionary<string, string> _values;

    BenchArgs(Dictionary<string, string> values) => _values = values;

    public static BenchArgs Parse(string[] args)
    {
        var values = new Dictionary<string, string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
                throw new ArgumentException($"expected '--option value', got '{args[i]}'");
            values[args[i][2..]] = args[++i];
        }
        return new BenchArgs(values);
    }

    /// <summary>Fails on any option the command does not take.</summary>
    public void Allow(params string[] known)
    {
        var unknown = _values.Keys.Where(k => !known.Contains(k)).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"unknown option{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown.Select(u => "--" + u))}; this command takes {string.Join(", ", known.Select(k => "--" + k))}");
    }

    public string? String(string name) => _values.GetValueOrDefault(name);

    public int Int(string name, int fallback) => IntOrNull(name) ?? fallback;

    public int? IntOrNull(string name) =>
        !_values.TryGetValue(name, out var v) ? null
        : int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0 ? n
        : throw new ArgumentException($"--{name} must be a positive integer, got '{v}'");

    /// <summary>A comma-separated list (empty items dropped), or <paramref name="fallback"/> when the option is absent.</summary>
    public IReadOnlyList<string> List(string name, IReadOnlyList<string> fallback)
    {
        if (!_values.TryGetValue(name, out var v)) return fallback;
        var items = v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return items.Length > 0 ? items : throw new ArgumentException($"--{name} needs at least one value");
    }

    /// <summary>A comma-separated list of positive numbers.</summary>
    public IReadOnlyList<double> Numbers(string name, IReadOnlyList<double> fallback)
    {
        if (!_values.ContainsKey(name)) return fallback;
        return [.. List(name, []).Select(s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) && d > 0
            ? d : throw new ArgumentException($"--{name}: '{s}' is not a positive number"))];
    }
}
