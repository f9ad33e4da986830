using System.Text.Json;
using System.Text.Json.Serialization;

namespace LoKO.Bench.Load;

/// <summary>
/// Writes timings and rates with three decimals: more would be noise, and the JSON line stays readable. A figure with
/// no value (NaN, e.g. a percentile of no samples) is null: JSON has no NaN.
/// </summary>
sealed class ThreeDecimals : JsonConverter<double>
{
    public override bool HandleNull => true;

    public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.Null ? double.NaN : reader.GetDouble();

    public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
    {
        if (double.IsFinite(value)) writer.WriteNumberValue(Math.Round(value, 3));
        else writer.WriteNullValue();
    }
}
