using System.Text.Json;

namespace LoKO.Engine.Data;

/// <summary>
/// Section-labelled package descriptions of Debian bookworm main, as scripts/fetch-data.sh writes
/// them: <c>packages.jsonl</c>, one <c>{"package","section","text"}</c> a line, sorted by package
/// name, identical texts already dropped.
/// </summary>
public static class DebianPackages
{
    public const string FileName = "packages.jsonl";

    /// <summary>The ten sections the fetch script keeps, in the class order of the benchmark task.</summary>
    public static IReadOnlyList<string> DefaultSections { get; } =
        ["science", "games", "sound", "graphics", "mail", "electronics", "math", "database", "web", "editors"];

    public static IReadOnlyList<DebianPackage> Load() => Load(DataPaths.DebianDirectory());

    /// <summary>The packages of <paramref name="sections"/> (default: <see cref="DefaultSections"/>), in file order.</summary>
    public static IReadOnlyList<DebianPackage> Load(string directory, IEnumerable<string>? sections = null)
    {
        DataPaths.RequireDirectory(directory, "Debian packages");
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
            throw new FileNotFoundException($"'{path}' is missing. Run scripts/fetch-data.sh (or set {DataPaths.EnvironmentVariable}).", path);

        var wanted = (sections ?? DefaultSections).ToHashSet(StringComparer.Ordinal);
        var all = Parse(File.ReadLines(path), path);
        // A section the file lacks is a typo or a stale file, not an empty class.
        var present = all.Select(p => p.Section).ToHashSet(StringComparer.Ordinal);
        if (wanted.FirstOrDefault(s => !present.Contains(s)) is { } missing)
            throw new ArgumentException($"Section '{missing}' is not in '{path}' (it has {string.Join(", ", present.Order(StringComparer.Ordinal))}).", nameof(sections));
        return [.. all.Where(p => wanted.Contains(p.Section))];
    }

    /// <summary>The packages of jsonl <paramref name="lines"/>; blank lines are skipped, a malformed one names its number.</summary>
    public static IReadOnlyList<DebianPackage> Parse(IEnumerable<string> lines, string source = "input")
    {
        ArgumentNullException.ThrowIfNull(lines);
        var packages = new List<DebianPackage>();
        var number = 0;
        foreach (var line in lines)
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line); }
            catch (JsonException e) { throw new InvalidDataException($"{source}, line {number}: not valid JSON ({e.Message})", e); }
            using (doc)
            {
                var row = doc.RootElement;
                packages.Add(new DebianPackage(Field(row, "package"), Field(row, "section"), Field(row, "text")));
            }
        }
        return packages;

        string Field(JsonElement row, string name) =>
            row.ValueKind == JsonValueKind.Object && row.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 } s
                ? s
                : throw new InvalidDataException($"{source}, line {number}: '{name}' is not a non-empty string");
    }
}
