namespace LoKO.Engine.Data;

/// <summary>
/// Topic-labelled short texts from the Debian <c>fortunes</c> package: one file per category,
/// entries separated by a line holding only <c>%</c>.
/// </summary>
public static class FortuneCorpus
{
    public static IReadOnlyList<string> DefaultCategories { get; } =
        ["computers", "science", "politics", "law", "education", "food", "art", "work"];

    public static IReadOnlyList<Fortune> Load() => Load(DataPaths.FortunesDirectory());

    /// <summary>Entries of <paramref name="categories"/> (default: <see cref="DefaultCategories"/>), in file order.</summary>
    public static IReadOnlyList<Fortune> Load(string directory, IEnumerable<string>? categories = null)
    {
        DataPaths.RequireDirectory(directory, "fortunes");
        var fortunes = new List<Fortune>();
        foreach (var category in categories ?? DefaultCategories)
        {
            if (string.IsNullOrWhiteSpace(category) || category.IndexOfAny(['/', '\\']) >= 0 || category.StartsWith('.'))
                throw new ArgumentException($"'{category}' is not a category name.", nameof(categories));
            var path = Path.Combine(directory, category);
            if (!File.Exists(path))
                throw new FileNotFoundException($"Fortunes category '{category}' is not in '{directory}'.", path);
            foreach (var text in Parse(File.ReadAllText(path)))
                fortunes.Add(new Fortune(text, category));
        }
        return fortunes;
    }

    /// <summary>The trimmed, non-empty entries of one category file.</summary>
    public static IEnumerable<string> Parse(string content)
    {
        ArgumentNullException.ThrowIfNull(content);
        var entry = new System.Text.StringBuilder();
        foreach (var line in content.Split('\n'))
        {
            if (line.TrimEnd('\r') == "%")
            {
                if (Flush(entry) is { } text)
                    yield return text;
                continue;
            }
            entry.Append(line.TrimEnd('\r')).Append('\n');
        }
        if (Flush(entry) is { } last)
            yield return last;
    }

    private static string? Flush(System.Text.StringBuilder entry)
    {
        var text = entry.ToString().Trim();
        entry.Clear();
        return text.Length == 0 ? null : text;
    }
}
