using LoKO.Engine.Imaging;

namespace LoKO.Engine.Tests.Preprocessing;

public sealed class ImageDecoderTests
{
    private static byte[] Gradient(int width, int height)
    {
        var pixels = new byte[width * height * 3];
        for (var y = 0; y < height; y++)
        for (var x = 0; x < width; x++)
        {
            var i = 3 * (y * width + x);
            pixels[i] = (byte)(x * 255 / (width - 1));
            pixels[i + 1] = (byte)(y * 255 / (height - 1));
            pixels[i + 2] = (byte)((x + y) % 256);
        }
        return pixels;
    }

    [Fact]
    public void Png_round_trips_exactly()
    {
        var pixels = Gradient(37, 23);
        var image = ImageDecoder.Decode(TestPng.Rgb(37, 23, pixels));

        Assert.Equal(37, image.Width);
        Assert.Equal(23, image.Height);
        Assert.Equal(pixels, image.Pixels);
    }

    [Fact]
    public void Decodes_from_a_stream()
    {
        var pixels = Gradient(5, 4);
        using var stream = new MemoryStream(TestPng.Rgb(5, 4, pixels));

        Assert.Equal(pixels, ImageDecoder.Decode(stream).Pixels);
    }

    [Fact]
    public void Random_bytes_are_invalid_data()
    {
        var bytes = new byte[256];
        new Random(7).NextBytes(bytes);

        var e = Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(bytes));
        Assert.Contains("not a PNG or JPEG", e.Message);
        Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode([]));
    }

    [Fact]
    public void Jpeg_decodes_to_rgb_with_gray_replicated()
    {
        // 2×1 blocks: left 40, right 200.
        var image = ImageDecoder.Decode(TestJpeg.FlatBlocks(2, 1, [40, 200]));

        Assert.Equal(16, image.Width);
        Assert.Equal(8, image.Height);
        for (var y = 0; y < 8; y++)
        for (var x = 0; x < 16; x++)
        for (var c = 0; c < 3; c++)
            Assert.InRange(image.Pixels[3 * (y * 16 + x) + c], x < 8 ? 39 : 199, x < 8 ? 41 : 201);
    }

    [Fact]
    public void Truncated_or_damaged_png_is_invalid_data()
    {
        var png = TestPng.Rgb(16, 16, Gradient(16, 16));

        Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(png[..40]));

        var damaged = (byte[])png.Clone();
        for (var i = 41; i < damaged.Length - 12; i++)
            damaged[i] ^= 0x5A; // scramble the zlib stream
        Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(damaged));
    }

    [Fact]
    public void Jpeg_whose_segment_runs_past_the_end_fails_instead_of_hanging()
    {
        // SOI + an APP0 header claiming 16 bytes: StbImageSharp on a plain MemoryStream loops forever here.
        byte[] headerOnly = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46, 0x49, 0x46];

        Assert.Throws<InvalidDataException>(() => DecodeWithin(headerOnly));
    }

    [Fact]
    public void Every_truncation_of_a_jpeg_and_png_decodes_or_fails_cleanly()
    {
        byte[][] files = [TestJpeg.FlatBlocks(3, 2, [0, 30, 90, 160, 220, 255]), TestPng.Rgb(9, 7, Gradient(9, 7))];
        foreach (var file in files)
        {
            for (var length = 3; length < file.Length; length++)
            {
                try
                {
                    DecodeWithin(file[..length]);
                }
                catch (InvalidDataException)
                {
                }
            }
        }
    }

    // Fails the test, rather than hanging the run, if the decoder never returns.
    private static RgbImage DecodeWithin(byte[] bytes)
    {
        var decoding = Task.Run(() => ImageDecoder.Decode(bytes));
        if (Task.WaitAny([decoding], TimeSpan.FromSeconds(10)) < 0)
            Assert.Fail($"Decoding {bytes.Length} bytes did not finish within 10 s.");
        return decoding.GetAwaiter().GetResult();
    }
}
