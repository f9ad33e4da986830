using System.Security.Cryptography;

namespace LoKO.Engine.Presets;

/// <summary>The SHA-256 (lower-case hex) of a model file: what `sha256sum model.onnx` prints.</summary>
public static class ModelFingerprint
{
    public static string Sha256(Stream stream) => Convert.ToHexStringLower(SHA256.HashData(stream));

    public static string Sha256(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 20);
        return Sha256(stream);
    }
}
