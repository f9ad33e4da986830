using LoKO.Engine.Onnx;
using TorchSharp;
using DataType = Onnx.TensorProto.Types.DataType;

namespace LoKO.Engine.Tests.Onnx;

/// <summary>Bad models and bad feeds fail with an <see cref="OnnxModelException"/> that says what and where.</summary>
public class OnnxErrorTests
{
    const DataType F = DataType.Float, L = DataType.Int64;

    static OnnxGraph Load(TinyModel model, string name = "tiny") => OnnxGraph.Load(new MemoryStream(model.Bytes()), name);

    [Fact]
    public void UnknownOperatorFailsAtLoadNamingNodeOpAndOpset()
    {
        var model = new TinyModel(13).In("x", F, [2, 3]).Op("FooBar", "mystery_node", ["x"], ["y"]).Out("y", F);
        var e = Assert.Throws<OnnxModelException>(() => Load(model));
        Assert.Contains("mystery_node", e.Message);
        Assert.Contains("FooBar", e.Message);
        Assert.Contains("opset 13", e.Message);
    }

    [Fact]
    public void InputThatNothingProducesIsNamedAtLoad()
    {
        var model = new TinyModel(13).In("x", F, [2, 3]).Op("Add", "adder", ["x", "ghost"], ["y"]).Out("y", F);
        var e = Assert.Throws<OnnxModelException>(() => Load(model));
        Assert.Contains("'ghost'", e.Message);
        Assert.Contains("adder", e.Message);
    }

    [Fact]
    public void MissingInputIsNamedEvenWhenADependentNodeIsListedFirst()
    {
        // Files need not list nodes in order: the consumer of the broken node's output comes first here.
        var model = new TinyModel(13).In("x", F, [2, 3])
            .Op("Relu", "consumer", ["mid"], ["y"])
            .Op("Add", "broken", ["x", "ghost"], ["mid"])
            .Out("y", F);
        var e = Assert.Throws<OnnxModelException>(() => Load(model));
        Assert.Contains("'ghost'", e.Message);
        Assert.Contains("broken", e.Message);
    }

    [Fact]
    public void CycleFailsAtLoad()
    {
        var model = new TinyModel(13).In("x", F, [2, 3])
            .Op("Add", "a", ["x", "q"], ["p"])
            .Op("Relu", "b", ["p"], ["q"])
            .Out("p", F);
        var e = Assert.Throws<OnnxModelException>(() => Load(model));
        Assert.Contains("cycle", e.Message);
    }

    [Fact]
    public void TruncatedModelFileFailsWithOnnxModelException()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "DnnImageModels/ResNet18Onnx/ResNet18.onnx");
        Assert.True(File.Exists(path), $"test model missing: {path}");
        var head = new byte[100 * 1024];
        using (var file = File.OpenRead(path)) file.ReadExactly(head);

        var e = Assert.Throws<OnnxModelException>(() => OnnxGraph.Load(new MemoryStream(head), "ResNet18-truncated"));
        Assert.Contains("ResNet18-truncated", e.Message);

        var truncated = Path.Combine(Path.GetTempPath(), $"loko-truncated-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(truncated, head);
        try
        {
            Assert.Throws<OnnxModelException>(() => OnnxGraph.Load(truncated));
        }
        finally
        {
            File.Delete(truncated);
        }
    }

    [Fact]
    public void InitializerWhoseFloatDataDoesNotMatchItsDimsFailsAtLoad()
    {
        var model = new TinyModel(13).In("x", F, [2, 3])
            .Init(Tensors.Floats("weights", [2, 3], 1, 2, 3, 4, 5))
            .Op("Add", ["x", "weights"], ["y"]).Out("y", F);
        var e = Assert.Throws<OnnxModelException>(() => Load(model));
        Assert.Contains("'weights'", e.Message);
        Assert.Contains("5", e.Message);
        Assert.Contains("6", e.Message);
    }

    [Fact]
    public void InitializerWhoseRawDataDoesNotMatchItsDimsFailsAtLoad()
    {
        var model = new TinyModel(13).In("x", F, [2, 3])
            .Init(Tensors.RawFloats("weights", [2, 3], [1, 2, 3, 4]))
            .Op("Add", ["x", "weights"], ["y"]).Out("y", F);
        var e = Assert.Throws<OnnxModelException>(() => Load(model));
        Assert.Contains("'weights'", e.Message);
    }

    static OnnxModelException RunFails(TinyModel model, string input, torch.Tensor feed)
    {
        using var graph = Load(model);
        using var executor = new GraphExecutor(graph);
        using var scope = torch.NewDisposeScope();
        return Assert.Throws<OnnxModelException>(() => executor.Run(new Dictionary<string, torch.Tensor> { [input] = feed }));
    }

    static TinyModel Pixels() => new TinyModel(13).In("pixels", F, [1, 3, 4, 4]).Op("Relu", ["pixels"], ["y"]).Out("y", F);

    [Fact]
    public void FloatFedWhereInt64IsDeclaredNamesTheInput()
    {
        var model = new TinyModel(13).In("token_ids", L, [2, 3]).Op("Neg", ["token_ids"], ["y"]).Out("y", L);
        var e = RunFails(model, "token_ids", torch.zeros(2, 3));
        Assert.Contains("'token_ids'", e.Message);
        Assert.Contains("int64", e.Message);
    }

    [Fact]
    public void WrongRankNamesTheInput()
    {
        var e = RunFails(Pixels(), "pixels", torch.zeros(3, 4, 4));
        Assert.Contains("'pixels'", e.Message);
        Assert.Contains("rank", e.Message);
    }

    [Fact]
    public void WrongFixedDimensionNamesTheInput()
    {
        var e = RunFails(Pixels(), "pixels", torch.zeros(1, 3, 5, 4));
        Assert.Contains("'pixels'", e.Message);
        Assert.Contains("dimension 2", e.Message);
    }

    [Fact]
    public void MissingFeedNamesTheInput()
    {
        var e = RunFails(Pixels(), "other", torch.zeros(1, 3, 4, 4));
        Assert.Contains("'pixels'", e.Message);
    }

    [Fact]
    public void KernelFailureAtRunNamesTheNode()
    {
        var model = new TinyModel(13).In("x", F, [2, 3]).Init("shape", 4, -1)
            .Op("Reshape", "reshaper", ["x", "shape"], ["y"]).Out("y", F);
        var e = RunFails(model, "x", torch.zeros(2, 3));
        Assert.Contains("reshaper", e.Message);
        Assert.Contains("Reshape", e.Message);
    }
}
