using LoKO.Engine.Data;
using LoKO.Engine.Imaging;

namespace LoKO.Engine.Tests.Preprocessing;

public sealed class ImageResizerTests
{
    [Theory]
    [InlineData(7, 5, 224, 224)]
    [InlineData(300, 200, 64, 48)]
    [InlineData(1, 1, 3, 9)]
    public void Constant_image_stays_constant(int width, int height, int toWidth, int toHeight)
    {
        var pixels = new byte[3 * width * height];
        for (var i = 0; i < pixels.Length; i += 3)
            (pixels[i], pixels[i + 1], pixels[i + 2]) = ((byte)200, (byte)17, (byte)255);

        var chw = ImageResizer.ResizeToChw(new RgbImage(width, height, pixels), toWidth, toHeight);

        var plane = toWidth * toHeight;
        Assert.Equal(3 * plane, chw.Length);
        Assert.All(chw[..plane], v => Assert.Equal(200f, v, 3));
        Assert.All(chw[plane..(2 * plane)], v => Assert.Equal(17f, v, 3));
        Assert.All(chw[(2 * plane)..], v => Assert.Equal(255f, v, 3));
    }

    [Fact]
    public void Upsampling_matches_pytorch_bilinear_without_align_corners()
    {
        // torch.nn.functional.interpolate([[0,1],[2,3]], size=(4,4), mode="bilinear", align_corners=False)
        // = [[0, .25, .75, 1], [.5, .75, 1.25, 1.5], [1.5, 1.75, 2.25, 2.5], [2, 2.25, 2.75, 3]]; here ×40.
        var image = RgbImage.FromPixels(new double[] { 0, 40, 80, 120 }, 2, 2);

        var chw = ImageResizer.ResizeToChw(image, 4, 4);

        float[] expected = [0, 10, 30, 40, 20, 30, 50, 60, 60, 70, 90, 100, 80, 90, 110, 120];
        for (var c = 0; c < 3; c++)
            for (var i = 0; i < 16; i++)
                Assert.Equal(expected[i], chw[c * 16 + i], 4);
    }

    [Fact]
    public void Downsampling_averages_neighbours_without_antialias()
    {
        // Halving samples at source x = 0.5, 2.5, 4.5: the mean of each pair.
        var image = RgbImage.FromPixels(new double[] { 0, 10, 20, 40, 100, 200 }, 6, 1);

        var chw = ImageResizer.ResizeToChw(image, 3, 1);

        Assert.Equal([5f, 30f, 150f], chw[..3]);
    }

    [Fact]
    public void Channels_come_out_planar_in_rgb_order()
    {
        var image = new RgbImage(1, 1, [10, 20, 30]);

        Assert.Equal([10f, 10f, 20f, 20f, 30f, 30f], ImageResizer.ResizeToChw(image, 2, 1));
    }

    [Fact]
    public void Resizing_an_mnist_digit_to_64_keeps_its_mean_within_two_percent()
    {
        var digits = MnistDigits.Load();
        foreach (var digit in digits.Where((_, i) => i % 1000 == 0))
        {
            var image = RgbImage.FromPixels(digit.Pixels, MnistDigits.Side, MnistDigits.Side);

            var chw = ImageResizer.ResizeToChw(image, 64, 64);

            var before = digit.Pixels.Average();
            var after = chw.Average();
            Assert.InRange(after, before * 0.98, before * 1.02);
            Assert.InRange(chw.Max(), 0f, 255f);
        }
    }

    [Fact]
    public void Writes_into_a_given_buffer_and_checks_its_size()
    {
        var image = new RgbImage(2, 2, new byte[12]);
        var buffer = new float[3 * 5 * 5];

        ImageResizer.ResizeToChw(image, 5, 5, buffer);

        Assert.Throws<ArgumentException>(() => ImageResizer.ResizeToChw(image, 5, 5, new float[10]));
        Assert.Equal("width", Assert.Throws<ArgumentException>(() => ImageResizer.ResizeToChw(image, 0, 5)).ParamName);
        Assert.Equal("height", Assert.Throws<ArgumentException>(() => ImageResizer.ResizeToChw(image, 5, -1)).ParamName);
    }
}
