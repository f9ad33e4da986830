using LoKO.Engine.Imaging;
using LoKO.Engine.Models;
using LoKO.Engine.Presets;
using LoKO.Engine.Tests.Onnx;
using static TorchSharp.torch;
using DataType = Onnx.TensorProto.Types.DataType;

namespace LoKO.Engine.Tests.Models;

/// <summary>Models loaded from a <see cref="ModelSpec"/>: each pooling and the image normalisation read what they say.</summary>
public sealed class ModelLoaderTests : IDisposable
{
    readonly string _directory = Directory.CreateTempSubdirectory("loko-loader-").FullName;

    /// <summary>input_ids → Gather → MatMul (node "project") = hidden [batch, tokens, 4] → ReduceMean over tokens = pooled.</summary>
    (string Model, string Vocab) WriteText()
    {
        string[] vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "alpha", "beta", "gamma"];
        var model = new TinyModel(17)
            .In("input_ids", DataType.Int64, [1, 8])
            .Out("hidden", DataType.Float)
            .Out("pooled", DataType.Float)
            .Init("embeddings", DataType.Float, [vocab.Length, 4])
            .Init("project.weight", DataType.Float, [4, 4])
            .Op("Gather", "embed", ["embeddings", "input_ids"], ["embedded"])
            .Op("MatMul", "project", ["embedded", "project.weight"], ["hidden"])
            .Op("ReduceMean", "pool", ["hidden"], ["pooled"], Attr.Ints("axes", 1), Attr.Int("keepdims", 0));
        var path = Path.Combine(_directory, "text.onnx");
        File.WriteAllBytes(path, model.Bytes());
        var vocabPath = Path.Combine(_directory, "vocab.txt");
        File.WriteAllLines(vocabPath, vocab);
        return (path, vocabPath);
    }

    BaseModel LoadText(string featureNode, PoolingKind pooling)
    {
        var (model, vocab) = WriteText();
        return ModelLoader.Load(new ModelSpec { Name = "text", Path = model, Modality = Modality.Text, Vocab = vocab, FeatureNode = featureNode, Pooling = pooling });
    }

    [Fact]
    public void ClsPoolingReadsTheFirstTokenAndANodeNameMeansItsOutput()
    {
        using var scope = NewDisposeScope();
        using var model = LoadText("project", PoolingKind.Cls);
        Assert.Equal("hidden", model.Pooling.GraphValue);
        Assert.Equal(4, model.FeatureDim);
        // The batch and token count the graph pins ([1, 8]) are free.
        using var inputs = model.Encode([new TextInput("alpha beta"), new TextInput("gamma gamma gamma alpha")]);
        var hidden = model.Executor.Run(inputs.Feeds, ["hidden"])["hidden"];
        var features = model.Features(inputs);
        Assert.Equal(new long[] { 2, 4 }, features.shape);
        Assert.True(features.allclose(hidden.select(1, 0)), "cls pooling is not the first token's vector");
    }

    [Fact]
    public void MeanPoolingOfTheHiddenStateEqualsTheGraphsOwnMeanAndNoneTakesThatAsItIs()
    {
        using var scope = NewDisposeScope();
        using var mean = LoadText("hidden", PoolingKind.Mean);
        using var none = LoadText("pooled", PoolingKind.None);
        using var inputs = mean.Encode([new TextInput("alpha beta gamma")]);
        var pooled = mean.Executor.Run(inputs.Feeds, ["pooled"])["pooled"];
        Assert.True(mean.Features(inputs).allclose(pooled, rtol: 1e-5, atol: 1e-6), "masked mean of an unpadded text differs from ReduceMean");
        Assert.True(none.Features(inputs).allclose(pooled), "no pooling changed the value");
        Assert.Equal(PoolingKind.None, none.Pooling.Kind);
    }

    [Fact]
    public void ImagesAreScaledToOneThenNormalisedPerChannel()
    {
        using var scope = NewDisposeScope();
        var graph = new TinyModel(17)
            .In("pixels", DataType.Float, [1, 3, 4, 4])
            .Out("seen", DataType.Float)
            .Op("Identity", "look", ["pixels"], ["seen"]);
        var path = Path.Combine(_directory, "image.onnx");
        File.WriteAllBytes(path, graph.Bytes());
        using var model = ModelLoader.Load(new ModelSpec
        {
            Name = "image", Path = path, Modality = Modality.Image, FeatureNode = "seen", Pooling = PoolingKind.None,
            Image = new ImageSpec { Mean = [0.5f, 0.25f, 0f], Std = [0.5f, 0.25f, 2f] },
        });
        Assert.Equal(4, ((ImageInputEncoder)model.Encoder).Size);
        var pixels = Enumerable.Repeat(new byte[] { 51, 102, 255 }, 9 * 9).SelectMany(p => p).ToArray();
        using var inputs = model.Encode([new ImageInput(new RgbImage(9, 9, pixels))]);
        var features = model.Features(inputs).view(3, 16);
        float[] expected = [(51 / 255f - 0.5f) / 0.5f, (102 / 255f - 0.25f) / 0.25f, (255 / 255f - 0f) / 2f];
        for (int c = 0; c < 3; c++)
        {
            var deviation = (features[c] - expected[c]).abs().max().item<float>();
            Assert.True(deviation < 1e-5, $"channel {c}: off by {deviation} from {expected[c]}");
        }
    }

    public void Dispose()
    {
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }
}
