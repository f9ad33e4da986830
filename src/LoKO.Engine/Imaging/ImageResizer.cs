namespace LoKO.Engine.Imaging;

/// <summary>
/// Bilinear resizing into the planar float layout networks take. Matches PyTorch's
/// <c>interpolate(mode="bilinear", align_corners=False, antialias=False)</c>: pixel centres at
/// half-integers, source coordinates clamped at the borders, no low-pass filter when shrinking.
/// </summary>
public static class ImageResizer
{
    /// <summary>Resizes to <paramref name="width"/>×<paramref name="height"/>; returns [3, H, W] (R, G, B planes), values 0–255.</summary>
    public static float[] ResizeToChw(RgbImage image, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(image);
        RequireSize(width, height);
        var destination = new float[3 * width * height];
        ResizeToChw(image, width, height, destination);
        return destination;
    }

    /// <summary>As <see cref="ResizeToChw(RgbImage, int, int)"/>, writing into <paramref name="destination"/> (3·W·H floats).</summary>
    public static void ResizeToChw(RgbImage image, int width, int height, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(image);
        RequireSize(width, height);
        var plane = width * height;
        if (destination.Length != 3 * plane)
            throw new ArgumentException($"Destination needs {3 * plane} floats, not {destination.Length}.", nameof(destination));

        // Taps depend only on the column (or row), so compute them once per axis.
        Span<int> x0 = width <= 1024 ? stackalloc int[width] : new int[width];
        Span<int> x1 = width <= 1024 ? stackalloc int[width] : new int[width];
        Span<float> wx = width <= 1024 ? stackalloc float[width] : new float[width];
        Taps(image.Width, width, x0, x1, wx);
        Span<int> y0 = height <= 1024 ? stackalloc int[height] : new int[height];
        Span<int> y1 = height <= 1024 ? stackalloc int[height] : new int[height];
        Span<float> wy = height <= 1024 ? stackalloc float[height] : new float[height];
        Taps(image.Height, height, y0, y1, wy);

        ReadOnlySpan<byte> src = image.Pixels;
        var stride = 3 * image.Width;
        var red = destination[..plane];
        var green = destination.Slice(plane, plane);
        var blue = destination.Slice(2 * plane, plane);
        for (var y = 0; y < height; y++)
        {
            var top = src.Slice(y0[y] * stride, stride);
            var bottom = src.Slice(y1[y] * stride, stride);
            float b1 = wy[y], b0 = 1f - b1;
            var row = y * width;
            for (var x = 0; x < width; x++)
            {
                int l = 3 * x0[x], r = 3 * x1[x];
                float a1 = wx[x], a0 = 1f - a1;
                red[row + x] = b0 * (a0 * top[l] + a1 * top[r]) + b1 * (a0 * bottom[l] + a1 * bottom[r]);
                green[row + x] = b0 * (a0 * top[l + 1] + a1 * top[r + 1]) + b1 * (a0 * bottom[l + 1] + a1 * bottom[r + 1]);
                blue[row + x] = b0 * (a0 * top[l + 2] + a1 * top[r + 2]) + b1 * (a0 * bottom[l + 2] + a1 * bottom[r + 2]);
            }
        }
    }

    // For each output index: the two source indices and the weight of the second.
    private static void Taps(int sourceSize, int targetSize, Span<int> i0, Span<int> i1, Span<float> w1)
    {
        var scale = (double)sourceSize / targetSize;
        for (var d = 0; d < targetSize; d++)
        {
            var s = Math.Max((d + 0.5) * scale - 0.5, 0.0);
            var lo = Math.Min((int)s, sourceSize - 1);
            i0[d] = lo;
            i1[d] = Math.Min(lo + 1, sourceSize - 1);
            w1[d] = (float)(s - lo);
        }
    }

    private static void RequireSize(int width, int height)
    {
        if (width <= 0)
            throw new ArgumentException($"Width must be positive, not {width}.", nameof(width));
        if (height <= 0)
            throw new ArgumentException($"Height must be positive, not {height}.", nameof(height));
    }
}
