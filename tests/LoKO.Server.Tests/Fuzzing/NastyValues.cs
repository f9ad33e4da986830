using LoKO.Contracts.Validation;

namespace LoKO.Server.Tests.Fuzzing;

/// <summary>
/// Values that break servers: empty and huge strings (around and past the server's limits), odd Unicode, lone
/// surrogates, control characters, numbers at the edges of their types, non-finite numbers as strings and as raw
/// JSON tokens, and JSON values of every type. None of them is one of the fuzzed tenants' labels or ids.
/// </summary>
public static class NastyValues
{
    static readonly InputLimits Limits = new();

    /// <summary>Lengths just inside and just past the server's limits (text, label, example id, tenant id, prediction id).</summary>
    static readonly int[] EdgeLengths =
    [
        Limits.MaxTextLength, Limits.MaxTextLength + 1, Limits.MaxLabelLength, Limits.MaxLabelLength + 1,
        Limits.MaxExampleIdLength, Limits.MaxExampleIdLength + 1, RequestValidator.MaxTenantIdLength, RequestValidator.MaxTenantIdLength + 1,
        RequestValidator.MaxPredictionIdLength, RequestValidator.MaxPredictionIdLength + 1, 100_000,
    ];

    static readonly string[] Strings =
    [
        "", " ", "\t\r\n", "\0", "a\0b", "null", "NaN", "Infinity", "-Infinity", "1e999", "-0", "true", "{}", "[]",
        "ünïcødé", "☃💥🦀", "\u202Eevil", "\u200B", "e\u0301\u0301\u0301", "\uFEFF", "\uFFFD", "\uFFFF",
        "\uD800", "x\uDC00y", "\uDBFF", "日本語のテキスト", "مرحبا", "../../etc/passwd", "..", ".", "%2F", "%00", "a/b", "a\\b",
        "<script>alert(1)</script>", "' OR 1=1 --", "\"", "\\", "${jndi:ldap://x}", "prediction:", "Bearer", "\u0085\u2028\u2029",
    ];

    /// <summary>Number tokens at the edges of int, long and double, and numbers JSON does not allow.</summary>
    public static readonly string[] NumberTokens =
    [
        "0", "-0", "1", "-1", "2", "1.5", "-1.5", "2147483647", "2147483648", "-2147483649", "9223372036854775807",
        "9223372036854775808", "-9223372036854775809", "1e308", "1e309", "-1e309", "4.9e-324", "1e-400", "1E400", "0.0",
        "123456789012345678901234567890",
    ];

    /// <summary>Not JSON at all: non-finite numbers and the spellings of numbers JSON forbids.</summary>
    public static readonly string[] InvalidTokens = ["NaN", "Infinity", "-Infinity", "+Infinity", "nan", "inf", "+1", "01", ".5", "1.", "0x10", "1e", "--1", "undefined"];

    public static readonly string[] OtherTokens = ["true", "false", "null", "[]", "{}", "\"\"", "[1,2,3]", "{\"a\":1}", "[null]", "[[]]", "\"NaN\"", "\"Infinity\"", "\"-Infinity\""];

    public static string String(Random rng) => rng.Next(4) switch
    {
        0 => Sized(rng, EdgeLengths[rng.Next(EdgeLengths.Length)]),
        1 => new string((char)rng.Next(0, 0x10000), rng.Next(1, 40)),
        _ => Strings[rng.Next(Strings.Length)],
    };

    /// <summary>A string of exactly <paramref name="length"/> characters (ASCII, or a repeated odd character).</summary>
    public static string Sized(Random rng, int length) => rng.Next(3) switch
    {
        0 => new string('x', length),
        1 => string.Concat(Enumerable.Repeat("é", length)),
        _ => new string(Enumerable.Range(0, length).Select(_ => (char)rng.Next('a', 'z' + 1)).ToArray()),
    };

    /// <summary>Any JSON value, or a token that is not JSON (the body is then malformed).</summary>
    public static string Token(Random rng) => rng.Next(5) switch
    {
        0 => NumberTokens[rng.Next(NumberTokens.Length)],
        1 => InvalidTokens[rng.Next(InvalidTokens.Length)],
        2 => OtherTokens[rng.Next(OtherTokens.Length)],
        3 => Nested(rng.Next(2) == 0 ? '[' : '{', rng.Next(2) == 0 ? 70 : 2000),
        _ => System.Text.Json.JsonSerializer.Serialize(String(rng)),
    };

    /// <summary>Nesting past (or at) the JSON reader's depth limit of 64.</summary>
    static string Nested(char open, int depth) => open == '['
        ? new string('[', depth) + new string(']', depth)
        : string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth);

    public static double Double(Random rng) => rng.Next(12) switch
    {
        0 => double.NaN,
        1 => double.PositiveInfinity,
        2 => double.NegativeInfinity,
        3 => -0.0,
        4 => double.MaxValue,
        5 => double.Epsilon,
        6 => -1,
        7 => 1e-300,
        8 => 256,
        _ => (rng.NextDouble() - 0.5) * Math.Pow(10, rng.Next(-5, 12)),
    };

    public static long Long(Random rng) => rng.Next(10) switch
    {
        0 => long.MaxValue,
        1 => long.MinValue,
        2 => int.MaxValue,
        3 => int.MinValue,
        4 => -1,
        5 => 0,
        6 => (long)int.MaxValue + 1,
        _ => rng.Next(-5, 2000),
    };

    public static int Int(Random rng) => rng.Next(8) switch
    {
        0 => int.MaxValue,
        1 => int.MinValue,
        2 => -1,
        3 => 0,
        4 => 4097,
        _ => rng.Next(-5, 300),
    };

    /// <summary>A copy of <paramref name="bytes"/> cut short or with a few bytes overwritten (a broken file or message).</summary>
    public static byte[] Corrupted(byte[] bytes, Random rng)
    {
        if (bytes.Length == 0 || rng.Next(3) == 0) return bytes[..(bytes.Length == 0 ? 0 : rng.Next(bytes.Length))];
        var copy = (byte[])bytes.Clone();
        for (int i = rng.Next(1, 8); i > 0; i--) copy[rng.Next(copy.Length)] = (byte)rng.Next(256);
        return copy;
    }

    /// <summary>Byte sequences that are not UTF-8: stray continuation bytes, overlong forms, encoded surrogates, bytes past U+10FFFF.</summary>
    public static readonly byte[][] InvalidUtf8 =
    [
        [0xFF], [0xFE, 0xFF], [0x80], [0xC3], [0xC3, 0x28], [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80],
        [0xED, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xE2, 0x82], [0xF0, 0x9F, 0x92],
    ];
}
