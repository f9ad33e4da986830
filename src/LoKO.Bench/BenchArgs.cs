namespace LoKO.Bench;

/// <summary>`--name value` pairs after the command; unknown or malformed options are errors, not silently ignored.</summary>
sealed class BenchArgs
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

    public string? String(string name) => _values.GetValueOrDefault(name);

    public int Int(string name, int fallback) =>
        !_values.TryGetValue(name, out var v) ? fallback
        : int.TryParse(v, out var n) && n > 0 ? n
        : throw new ArgumentException($"--{name} must be a positive integer, got '{v}'");
}
