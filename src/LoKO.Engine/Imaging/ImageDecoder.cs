using StbImageSharp;

namespace LoKO.Engine.Imaging;

/// <summary>Decodes PNG and JPEG files into 8-bit RGB (alpha is dropped, grayscale replicated).</summary>
public static class ImageDecoder
{
    /// <summary>Largest image accepted, in pixels: guards against tiny files that claim huge sizes.</summary>
    public const long MaxPixelCount = 64L * 1024 * 1024;

    private static ReadOnlySpan<byte> PngSignature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
    private static ReadOnlySpan<byte> JpegSignature => [0xFF, 0xD8, 0xFF];

    public static RgbImage Decode(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return Decode(buffer.ToArray());
    }

    public static RgbImage Decode(byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        // stb also reads BMP, GIF, PSD and TGA, and TGA has no signature: without this check
        // arbitrary bytes can "decode" as a TGA.
        var span = bytes.AsSpan();
        if (!span.StartsWith(PngSignature) && !span.StartsWith(JpegSignature))
            throw new InvalidDataException($"The {bytes.Length} bytes are not a PNG or JPEG image (unknown signature).");

        ImageResult result;
        try
        {
            var info = ImageInfo.FromStream(new BoundedReadStream(bytes))
                ?? throw new InvalidDataException("The image header cannot be read.");
            if (info.Width <= 0 || info.Height <= 0 || (long)info.Width * info.Height > MaxPixelCount)
                throw new InvalidDataException(
                    $"The image claims to be {info.Width}×{info.Height}; at most {MaxPixelCount} pixels are accepted.");
            result = ImageResult.FromStream(new BoundedReadStream(bytes), ColorComponents.RedGreenBlue);
        }
        catch (InvalidDataException)
        {
            throw;
        }
        catch (Exception e)
        {
            throw new InvalidDataException($"The image cannot be decoded: {e.Message}", e);
        }

        if (result.Data is null || result.Data.Length != 3L * result.Width * result.Height)
            throw new InvalidDataException("The image decoded to an unexpected number of bytes.");
        return new RgbImage(result.Width, result.Height, result.Data);
    }
}
