namespace LoKO.Contracts.Validation;

/// <summary>Size limits on one example's input, shared by REST and gRPC.</summary>
public sealed record InputLimits
{
    /// <summary>Characters of text.</summary>
    public int MaxTextLength { get; init; } = 10_000;
    /// <summary>Bytes of an encoded (PNG/JPEG) image.</summary>
    public int MaxImageBytes { get; init; } = 8 * 1024 * 1024;
    /// <summary>Largest width or height of raw pixels.</summary>
    public int MaxImageSide { get; init; } = 4096;
    /// <summary>Largest W·H of raw pixels.</summary>
    public long MaxImagePixels { get; init; } = 1024L * 1024;
    public int MaxLabelLength { get; init; } = 128;
    public int MaxExampleIdLength { get; init; } = 128;
}
