using LoKO.Engine.Data;
using LoKO.Engine.Imaging;
using LoKO.Engine.Models;

namespace LoKO.Bench.Online;

/// <summary>The real inputs speed and agreement runs step on: fortune texts for text presets, MNIST digits for image ones.</summary>
static class BenchExamples
{
    public static List<(ModelInput Input, int Label)> For(string preset, int classes) =>
        Tasks.TaskData.ModalityOf(preset) == Modality.Text
            ? StreamOrder.Shuffle(FortuneCorpus.Load(), 7).Select((f, i) => ((ModelInput)new TextInput(f.Text), i % classes)).ToList()
            : StreamOrder.Shuffle(MnistDigits.Load(), 7).Select(d => ((ModelInput)new ImageInput(RgbImage.FromPixels(d.Pixels, MnistDigits.Side, MnistDigits.Side)), d.Label % classes)).ToList();
}
