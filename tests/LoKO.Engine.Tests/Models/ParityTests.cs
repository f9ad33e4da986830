using LoKO.Bench.Parity;
using LoKO.Engine.Data;
using LoKO.Engine.Imaging;
using Xunit.Abstractions;

namespace LoKO.Engine.Tests.Models;

/// <summary>Our execution of the shipped graphs against ONNX Runtime, on real texts and digits.</summary>
[Collection(ModelCollection.Name)]
public class ParityTests(ITestOutputHelper output)
{
    [Fact]
    public void MiniLmMatchesOnnxRuntimeOnFortuneTexts()
    {
        var texts = StreamOrder.Shuffle(FortuneCorpus.Load(), 3).Take(4).Select(f => f.Text).ToList();
        var r = ParityRunner.MiniLm(texts, threads: 1);
        output.WriteLine(r.ToString());
        Assert.True(r.OutputScale > 0.1, "the reference output should not be trivially small");
        Assert.True(r.MaxAbsDiff <= 1e-4, $"relative max |diff| {r.MaxAbsDiff:E2}");
    }

    [Fact]
    public void ResNet18WithItsPreprocessGraphMatchesOnnxRuntimeOnMnistDigits()
    {
        var images = StreamOrder.Shuffle(MnistDigits.Load(), 3).Take(2)
            .Select(d => RgbImage.FromPixels(d.Pixels, MnistDigits.Side, MnistDigits.Side)).ToList();
        var r = ParityRunner.ResNet18(images, threads: 1);
        output.WriteLine(r.ToString());
        Assert.True(r.OutputScale > 0.1, "the reference output should not be trivially small");
        Assert.True(r.MaxAbsDiff <= 1e-4, $"relative max |diff| {r.MaxAbsDiff:E2}");
    }
}
