using System.Text.Json.Serialization;

namespace LoKO.Bench.Parity;

/// <summary>
/// How closely our execution of a model matches ONNX Runtime on real inputs, and mean forward time per
/// example of each (same thread count). <see cref="MaxAbsDiff"/> is relative to the output scale (max |ORT output|).
/// </summary>
public sealed record ParityResult(
    [property: JsonPropertyName("maxAbsDiff")] double MaxAbsDiff,
    [property: JsonPropertyName("oursMs")] double OursMs,
    [property: JsonPropertyName("ortMs")] double OrtMs,
    [property: JsonPropertyName("absDiff")] double AbsDiff,
    [property: JsonPropertyName("outputScale")] double OutputScale,
    [property: JsonPropertyName("examples")] int Examples,
    [property: JsonPropertyName("threads")] int Threads);
