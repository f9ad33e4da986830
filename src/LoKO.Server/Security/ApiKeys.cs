using System.Security.Cryptography;
using System.Text;

namespace LoKO.Server.Security;

/// <summary>API keys: 256 random bits, stored only as a SHA-256 hash (keys are high-entropy, so a fast hash suffices).</summary>
public static class ApiKeys
{
    public static string NewKey(string prefix) =>
        prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    public static bool FixedTimeEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(a), Encoding.UTF8.GetBytes(b));
}
