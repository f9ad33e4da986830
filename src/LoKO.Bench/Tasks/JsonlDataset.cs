using System.Text.Json;
using LoKO.Engine.Evaluation;
using LoKO.Engine.Imaging;
using LoKO.Engine.Models;

namespace LoKO.Bench.Tasks;

/// <summary>
/// A labelled data set in JSON Lines: one object per line, either <c>{"text": …, "label": …}</c> or
/// <c>{"pixels": […], "width": W, "height": H, "label": …}</c> (W·H grayscale or W·H·3 interleaved RGB values
/// in 0–255, row-major). Labels are strings (numbers are taken as their text); the classes are the distinct
/// labels, sorted ordinally. Blank lines are skipped; anything else malformed is an error naming the line and field.
/// </summary>
public static class JsonlDataset
{
    public static (IReadOnlyList<string> Classes, IReadOnlyList<LabeledExample> Examples) Read(string path, Modality modality)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"the data file '{path}' does not exist", path);
        using var reader = new StreamReader(path);
        return Read(reader, modality, path);
    }

    public static (IReadOnlyList<string> Classes, IReadOnlyList<LabeledExample> Examples) Read(TextReader reader, Modality modality, string name = "data")
    {
        var rows = new List<(ModelInput Input, string Label)>();
        int lineNumber = 0;
        for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            rows.Add(ParseLine(line, lineNumber, modality, name));
        }
        if (rows.Count == 0) throw new InvalidDataException($"{name}: no examples (one JSON object per line expected)");
        var classes = rows.Select(r => r.Label).Distinct().Order(StringComparer.Ordinal).ToList();
        if (classes.Count < 2) throw new InvalidDataException($"{name}: every example has the label '{classes[0]}'; at least two classes are needed");
        var index = classes.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i, StringComparer.Ordinal);
        return (classes, [.. rows.Select(r => new LabeledExample(r.Input, index[r.Label], r.Label))]);
    }

    static (ModelInput Input, string Label) ParseLine(string line, int n, Modality modality, string name)
    {
        InvalidDataException Bad(string what) => new($"{name}, line {n}: {what}");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(line); }
        catch (JsonException e) { throw Bad($"not valid JSON ({e.Message})"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Bad($"expected a JSON object, got {root.ValueKind}");

            if (!root.TryGetProperty("label", out var labelValue)) throw Bad("field 'label' is missing");
            string label = labelValue.ValueKind switch
            {
                JsonValueKind.String => labelValue.GetString()!,
                JsonValueKind.Number => labelValue.GetRawText(),
                _ => throw Bad($"field 'label' must be a string or a number, got {labelValue.ValueKind}"),
            };
            if (label.Length == 0) throw Bad("field 'label' is empty");

            bool hasText = root.TryGetProperty("text", out var text), hasPixels = root.TryGetProperty("pixels", out var pixels);
            if (hasText && hasPixels) throw Bad("has both 'text' and 'pixels'; an example is one or the other");
            if (modality == Modality.Text)
            {
                if (!hasText) throw Bad(hasPixels ? "field 'text' is missing (this preset takes text, the line has 'pixels')" : "field 'text' is missing");
                if (text.ValueKind != JsonValueKind.String) throw Bad($"field 'text' must be a string, got {text.ValueKind}");
                var s = text.GetString()!;
                if (string.IsNullOrWhiteSpace(s)) throw Bad("field 'text' is empty");
                return (new TextInput(s), label);
            }

            if (!hasPixels) throw Bad(hasText ? "field 'pixels' is missing (this preset takes images, the line has 'text')" : "field 'pixels' is missing");
            int width = Dimension(root, "width", Bad), height = Dimension(root, "height", Bad);
            if (pixels.ValueKind != JsonValueKind.Array) throw Bad($"field 'pixels' must be an array of numbers, got {pixels.ValueKind}");
            var values = new double[pixels.GetArrayLength()];
            int i = 0;
            foreach (var v in pixels.EnumerateArray())
            {
                if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out values[i]))
                    throw Bad($"field 'pixels': value {i} is not a number");
                i++;
            }
            try { return (new ImageInput(RgbImage.FromPixels(values, width, height)), label); }
            catch (ArgumentException e) { throw Bad($"field 'pixels': {e.Message}"); }
        }
    }

    static int Dimension(JsonElement root, string field, Func<string, InvalidDataException> bad)
    {
        if (!root.TryGetProperty(field, out var v)) throw bad($"field '{field}' is missing");
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int n) || n <= 0)
            throw bad($"field '{field}' must be a positive integer, got {v.GetRawText()}");
        return n;
    }
}
