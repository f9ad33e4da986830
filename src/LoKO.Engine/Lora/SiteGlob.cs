using System.Text.RegularExpressions;

namespace LoKO.Engine.Lora;

/// <summary>Glob over site names: `*` any run of characters (dots included), `?` one character.</summary>
public static class SiteGlob
{
    public static bool IsMatch(string pattern, string name) =>
        Regex.IsMatch(name, "^" + Regex.Escape(pattern).Replace("\\*", ".*").Replace("\\?", ".") + "$");

    /// <summary>The sites any pattern selects, in graph order; a pattern that selects nothing is an error.</summary>
    public static IReadOnlyList<LoraSite> Select(IReadOnlyList<LoraSite> sites, IReadOnlyList<string> patterns)
    {
        foreach (var p in patterns)
            if (!sites.Any(s => IsMatch(p, s.Name)))
                throw new ArgumentException(
                    $"LoRA target '{p}' matches no site; sites are e.g. {string.Join(", ", sites.Take(4).Select(s => s.Name))}", "targets");
        return [.. sites.Where(s => patterns.Any(p => IsMatch(p, s.Name)))];
    }
}
