using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace LoKO.Bench.Online;

static class Format
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string Acc(double v) => v.ToString("F3", CultureInfo.InvariantCulture);
    public static string Acc(double? v) => v is { } x ? Acc(x) : "—";
    public static string Reach(int? n) => n is { } x ? x.ToString(CultureInfo.InvariantCulture) : "never";
    public static string Ms(double v) => v.ToString("F1", CultureInfo.InvariantCulture);
    public static string Num(double v) => v.ToString("G", CultureInfo.InvariantCulture);
    public static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>Writes <paramref name="json"/> to <paramref name="path"/> and as the last line of stdout.</summary>
    public static void Emit(string path, string json)
    {
        File.WriteAllText(path, json + "\n");
        Console.WriteLine(json);
    }
}
