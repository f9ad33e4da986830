using LoKO.Engine.Imaging;

namespace LoKO.Engine.Tests.Preprocessing;

public sealed class RgbImageTests
{
    [Fact]
    public void Grayscale_values_are_replicated_to_three_channels()
    {
        var image = RgbImage.FromPixels(new double[] { 0, 127.6, 255, 10 }, width: 2, height: 2);

        Assert.Equal([0, 0, 0, 128, 128, 128, 255, 255, 255, 10, 10, 10], image.Pixels);
    }

    [Fact]
    public void Rgb_values_are_kept_interleaved()
    {
        var image = RgbImage.FromPixels(new float[] { 1, 2, 3, 4, 5, 6 }, width: 2, height: 1);

        Assert.Equal(2, image.Width);
        Assert.Equal(1, image.Height);
        Assert.Equal([1, 2, 3, 4, 5, 6], image.Pixels);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(-0.5)]
    [InlineData(255.5)]
    public void Bad_values_are_rejected_naming_pixels(double bad)
    {
        var e = Assert.Throws<ArgumentException>(() => RgbImage.FromPixels(new[] { 0, bad, 0, 0 }, 2, 2));
        Assert.Equal("pixels", e.ParamName);
        var f = Assert.Throws<ArgumentException>(() => RgbImage.FromPixels(new[] { 0f, (float)bad, 0f, 0f }, 2, 2));
        Assert.Equal("pixels", f.ParamName);
    }

    [Fact]
    public void Wrong_length_is_rejected_naming_pixels()
    {
        var e = Assert.Throws<ArgumentException>(() => RgbImage.FromPixels(new double[5], 2, 2));
        Assert.Equal("pixels", e.ParamName);
        Assert.Equal("pixels", Assert.Throws<ArgumentException>(() => new RgbImage(2, 2, new byte[11])).ParamName);
    }

    [Theory]
    [InlineData(0, 2, "width")]
    [InlineData(-3, 2, "width")]
    [InlineData(2, 0, "height")]
    [InlineData(2, -1, "height")]
    public void Non_positive_sizes_are_rejected_naming_the_field(int width, int height, string field)
    {
        Assert.Equal(field, Assert.Throws<ArgumentException>(() => RgbImage.FromPixels(new double[4], width, height)).ParamName);
        Assert.Equal(field, Assert.Throws<ArgumentException>(() => RgbImage.FromPixels(new float[4], width, height)).ParamName);
    }
}
