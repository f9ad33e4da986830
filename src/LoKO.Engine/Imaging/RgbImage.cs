namespace LoKO.Engine.Imaging;

/// <summary>An 8-bit RGB image, pixels interleaved row by row (R, G, B, R, G, B, …).</summary>
public sealed record RgbImage
{
    public RgbImage(int width, int height, byte[] pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        RequireSize(width, height);
        if (pixels.LongLength != 3L * width * height)
            throw new ArgumentException(
                $"A {width}×{height} RGB image needs {3L * width * height} bytes, not {pixels.LongLength}.", nameof(pixels));
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    public int Width { get; }
    public int Height { get; }
    public byte[] Pixels { get; }

    /// <summary>
    /// Builds an image from W·H grayscale values (copied to all three channels) or W·H·3
    /// interleaved RGB values, each a finite number in [0, 255] (rounded to the nearest byte).
    /// </summary>
    public static RgbImage FromPixels(IReadOnlyList<double> pixels, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        var channels = ChannelsOf(pixels.Count, width, height);
        var bytes = new byte[3 * width * height];
        for (var i = 0; i < pixels.Count; i++)
            Store(bytes, channels, i, pixels[i]);
        return new RgbImage(width, height, bytes);
    }

    /// <inheritdoc cref="FromPixels(IReadOnlyList{double}, int, int)"/>
    public static RgbImage FromPixels(float[] pixels, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        var channels = ChannelsOf(pixels.Length, width, height);
        var bytes = new byte[3 * width * height];
        for (var i = 0; i < pixels.Length; i++)
            Store(bytes, channels, i, pixels[i]);
        return new RgbImage(width, height, bytes);
    }

    private static int ChannelsOf(int count, int width, int height)
    {
        RequireSize(width, height);
        var area = (long)width * height;
        if (count == area)
            return 1;
        if (count == 3 * area)
            return 3;
        throw new ArgumentException(
            $"A {width}×{height} image takes {area} grayscale or {3 * area} RGB values, not {count}.", "pixels");
    }

    private static void Store(byte[] bytes, int channels, int index, double value)
    {
        if (!double.IsFinite(value) || value < 0 || value > 255)
            throw new ArgumentException($"Pixel value {value} at index {index} is not a number in [0, 255].", "pixels");
        var b = (byte)Math.Round(value, MidpointRounding.AwayFromZero);
        if (channels == 3)
        {
            bytes[index] = b;
            return;
        }
        bytes[3 * index] = b;
        bytes[3 * index + 1] = b;
        bytes[3 * index + 2] = b;
    }

    private static void RequireSize(int width, int height)
    {
        if (width <= 0)
            throw new ArgumentException($"Width must be positive, not {width}.", nameof(width));
        if (height <= 0)
            throw new ArgumentException($"Height must be positive, not {height}.", nameof(height));
        // 3·W·H bytes must fit one array.
        if (3L * width * height > Array.MaxLength)
            throw new ArgumentException($"A {width}×{height} image is too large.", nameof(width));
    }
}
