using LoKO.Engine.Data;
using LoKO.Engine.Imaging;
using LoKO.Engine.Models;
using LoKO.Engine.Presets;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using static TorchSharp.torch;

namespace LoKO.Engine.Tests.Models;

/// <summary>The feature node each preset's head sees, checked against independent computations.</summary>
[Collection(ModelCollection.Name)]
public class FeatureTests(ModelFixture models)
{
    [Fact]
    public void MiniLmFeaturesAreTheMaskedTokenMeanEvenInAPaddedBatch()
    {
        using var scope = NewDisposeScope();
        var model = models.MiniLm;
        var texts = new[] { "Short.", "A much longer sentence, so that the first one is padded in the batch." };
        using var batch = model.Encode([.. texts.Select(t => new TextInput(t))]);
        Assert.Equal(2, batch.Batch);
        var features = model.Features(batch);
        Assert.Equal(new long[] { 2, 384 }, features.shape);

        for (int i = 0; i < texts.Length; i++)
        {
            using var single = model.Encode([new TextInput(texts[i])]);
            var hidden = model.Executor.Run(single.Feeds, ["last_hidden_state"])["last_hidden_state"];
            var expected = hidden[0].mean([0]);  // no padding: a plain mean over tokens
            var diff = (features[i] - expected).abs().max().item<float>();
            Assert.True(diff < 1e-4, $"text {i}: pooled features differ by {diff}");
        }
        Assert.True((features[0] - features[1]).abs().max().item<float>() > 1e-2, "different texts should differ");
    }

    [Fact]
    public void ResNetFeaturesAt224EqualTheShippedModelsPooledOutputUnderOnnxRuntime()
    {
        using var scope = NewDisposeScope();
        using var model = ModelPresets.Load(ModelPresets.ResNet18, new PresetOptions { ImageSize = 224 });
        var digit = StreamOrder.Shuffle(MnistDigits.Load(), 8)[0];
        var image = RgbImage.FromPixels(digit.Pixels, 28, 28);
        using var inputs = model.Encode([new ImageInput(image)]);
        var ours = model.Features(inputs).flatten().data<float>().ToArray();

        using var prep = new InferenceSession(ModelAssets.ResNetPreprocessPath);
        using var net = new InferenceSession(ModelAssets.ResNet18Path);
        var rgb = new DenseTensor<float>(ImageResizer.ResizeToChw(image, 224, 224), [1, 3, 224, 224]);
        using var prepped = prep.Run([NamedOnnxValue.CreateFromTensor(prep.InputMetadata.Keys.First(), rgb)]);
        var x = prepped.First().AsTensor<float>().ToDenseTensor();
        using var result = net.Run([NamedOnnxValue.CreateFromTensor(net.InputMetadata.Keys.First(), x)]);
        var expected = result.First().AsEnumerable<float>().ToArray();

        Assert.Equal(512, ours.Length);
        double scale = expected.Max(Math.Abs);
        double diff = ours.Zip(expected).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(diff <= 1e-4 * scale, $"features differ by {diff} (scale {scale})");
    }

    [Fact]
    public void TheImageNormalisationIsReadFromThePreprocessGraph()
    {
        using var prep = LoKO.Engine.Onnx.OnnxGraph.Load(ModelAssets.ResNetPreprocessPath);
        using var normalisation = ImageNormalisation.FromPreprocessGraph(prep);
        Assert.Equal(new long[] { 2, 1, 0 }, normalisation.ChannelOrder); // the CNTK model takes BGR
        using var scope = NewDisposeScope();
        // At the graph's own size the result equals running the graph itself.
        var rgb = rand(1, 3, 224, 224) * 255;
        using var executor = new LoKO.Engine.Onnx.GraphExecutor(prep);
        var expected = executor.Run(new Dictionary<string, TorchSharp.torch.Tensor> { [prep.Inputs[0].Name] = rgb })[prep.Outputs[0].Name];
        Assert.Equal(0f, (normalisation.Apply(rgb) - expected).abs().max().item<float>(), 4);
    }

    [Fact]
    public void AModelRefusesInputOfTheWrongModalityNamingTheField()
    {
        var e = Assert.Throws<ArgumentException>(() => models.MiniLm.Encode([new ImageInput(RgbImage.FromPixels(new float[4], 2, 2))]));
        Assert.Equal("text", e.ParamName);
        var e2 = Assert.Throws<ArgumentException>(() => models.ResNet18.Encode([new TextInput("hello")]));
        Assert.Equal("image", e2.ParamName);
    }
}
