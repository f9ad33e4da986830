using System.Text.Json;
using System.Text.Json.Serialization;

namespace LoKO.Bench.Load;

/// <summary>Writes timings and rates with three decimals: more would be noise, and the JSON line stays readable.</summary>
sealed class ThreeDecimals : JsonConverter<double>
{
    public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.GetDouble();

    public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options) => writer.WriteNumberValue(Math.Round(value, 3));
}
