using System.Text.Json;
using System.Text.Json.Serialization;
using LoKO.Bench.Load;

namespace LoKO.Bench.Scale;

/// <summary>How the scale commands write report.json: three decimals, and null where a figure has no value.</summary>
static class ReportJson
{
    public static readonly JsonSerializerOptions Options = new(Online.Format.Json)
    {
        Converters = { new ThreeDecimals() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
