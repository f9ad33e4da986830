using LoKO.Engine.Data;
using LoKO.Engine.Imaging;
using LoKO.Engine.Models;

namespace LoKO.Engine.Tests.Models;

/// <summary>Real examples from the fetched data sets (scripts/fetch-data.sh).</summary>
static class TestInputs
{
    static readonly Lazy<IReadOnlyList<LabeledDigit>> Digits = new(() => StreamOrder.Shuffle(Engine.Data.MnistDigits.Load(), 11));
    static readonly Lazy<IReadOnlyList<Fortune>> Fortunes = new(() => StreamOrder.Shuffle(FortuneCorpus.Load(), 11));

    public static IReadOnlyList<LabeledDigit> MnistDigits(int count) => [.. Digits.Value.Take(count)];

    public static ModelInput Image(LabeledDigit d) => new ImageInput(RgbImage.FromPixels(d.Pixels, 28, 28));

    public static IReadOnlyList<ModelInput> Images(int count) => [.. MnistDigits(count).Select(Image)];

    public static IReadOnlyList<ModelInput> Texts(int count) => [.. Fortunes.Value.Take(count).Select(f => new TextInput(f.Text))];
}
