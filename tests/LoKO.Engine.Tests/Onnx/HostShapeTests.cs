using LoKO.Engine.Models;
using LoKO.Engine.Onnx;
using LoKO.Engine.Presets;
using LoKO.Engine.Tests.Models;
using Xunit.Abstractions;
using static TorchSharp.torch;
using static LoKO.Engine.Tests.Models.PlanRuns;
using DataType = Onnx.TensorProto.Types.DataType;
using static LoKO.Engine.Tests.Onnx.OnnxRuntimeReference;

namespace LoKO.Engine.Tests.Onnx;

/// <summary>
/// Shape arithmetic of a new input shape runs in managed code, made tensors only where a kernel reads it. The
/// real MiniLM, fed texts of different lengths in turn (each length first a miss of the shape cache, then a hit),
/// gives what the same plan with every shape step run by its kernel gives, and what ONNX Runtime gives.
/// </summary>
[Collection(ModelCollection.Name)]
public class HostShapeTests(ModelFixture models, ITestOutputHelper output)
{
    static GraphExecutor Executor(BaseModel model, bool hostShapes)
    {
        var executor = new GraphExecutor(model.Graph, model.Device) { HostShapeArithmetic = hostShapes };
        return Relaxed(executor, model);
    }

    static int CachedShapeValues(GraphExecutor executor, string[] outputs) =>
        executor.PlanFor(outputs).ShapeCache.Values.Sum(v => v.Length);

    [Fact]
    public void MiniLmOverAlternatingLengthsMatchesItsShapeKernelsAndOnnxRuntime()
    {
        var model = models.MiniLm;
        string[] outputs = [.. model.Graph.Outputs.Select(o => o.Name)];
        using var host = Executor(model, hostShapes: true);
        using var kernels = Executor(model, hostShapes: false);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long[] Length(EncodedInputs i) => i.Feeds.First().Value.shape;
        var candidates = TestInputs.Texts(8);
        using var first = model.Encode([candidates[0]]);
        // The first text whose tokens are not as many as the first's.
        var other = candidates.Skip(1).First(t => { using var e = model.Encode([t]); return Length(e)[^1] != Length(first)[^1]; });
        using var second = model.Encode([other]);
        using var both = model.Encode([candidates[0], other]);
        byte[] bytes;
        using (var s = ModelAssets.OpenMiniLmModel()) { var ms = new MemoryStream(); s.CopyTo(ms); bytes = ms.ToArray(); }

        // Each shape twice, interleaved: a miss then a hit for both executors.
        foreach (var (inputs, run) in new[] { first, second, first, both, second, both }.Select((x, k) => (x, k)))
        {
            var ours = host.Run(inputs.Feeds, outputs);
            var reference = kernels.Run(inputs.Feeds, outputs);
            var ort = RunOnnxRuntime(bytes, [.. inputs.Feeds.Select(kv => FromTorch(kv.Key, kv.Value))], outputs);
            string shape = string.Join("×", Length(inputs));
            foreach (var (o, theirs) in outputs.Zip(ort))
            {
                AssertClose(ours[o], reference[o], 1e-5, $"run {run + 1} ({shape}), '{o}' against the shape kernels");
                AssertClose(ours[o], ToTorch(theirs), 1e-4, $"run {run + 1} ({shape}), '{o}' against ONNX Runtime");
            }
        }
        // The kernels' run caches every shape value; the managed one only those a kernel or the caller reads.
        int hosted = CachedShapeValues(host, outputs), all = CachedShapeValues(kernels, outputs);
        output.WriteLine($"cached shape tensors over 3 shapes: {hosted} with host arithmetic, {all} with the kernels");
        Assert.InRange(hosted, 1, all - 1);
    }

    /// <summary>
    /// Reshape to [x.shape[1 + index], −1] by way of every op the host runs: a 0-d Gather with a possibly negative
    /// index, Unsqueeze and Squeeze with negative axes, Squeeze of every unit dim, Concat along axis −1.
    /// </summary>
    static TinyModel Arithmetic(long index) => new TinyModel(15).In("x", DataType.Float, [2, 3, 4])
        .Init(Tensors.Longs("i", [], index)).Init("axes", 0, -1).Init("last", -1).Init("minus", -1)
        .Op("Shape", ["x"], ["s"], Attr.Int("start", 1))
        .Op("Gather", ["s", "i"], ["picked"])
        .Op("Unsqueeze", ["picked", "axes"], ["grid"])
        .Op("Squeeze", ["grid", "last"], ["flat"])
        .Op("Squeeze", ["grid"], ["scalar"])
        .Op("Concat", ["flat", "minus"], ["target"], Attr.Int("axis", -1))
        .Op("Reshape", ["x", "target"], ["y"])
        .Out("y", DataType.Float).Out("target", DataType.Int64).Out("scalar", DataType.Int64);

    [Theory]
    [InlineData(-1)]
    [InlineData(0)]
    public void EachHostedOpGivesWhatItsKernelAndOnnxRuntimeGive(long index)
    {
        var model = Arithmetic(index);
        var feeds = model.Feeds();
        string[] outputs = ["y", "target", "scalar"];
        var expected = RunOnnxRuntime(model.Bytes(), feeds, outputs);
        using var graph = OnnxGraph.FromProto(model.Proto(), "arithmetic");
        foreach (bool hostShapes in new[] { true, false })
        {
            using var executor = new GraphExecutor(graph) { HostShapeArithmetic = hostShapes };
            for (int run = 0; run < 2; run++)
            {
                using var scope = NewDisposeScope();
                var actual = executor.Run(feeds.ToDictionary(f => f.Name, ToTorch), outputs);
                foreach (var (o, e) in outputs.Zip(expected))
                    OnnxRuntimeReference.AssertClose(e, FromTorch(o, actual[o]), $"host {hostShapes}, run {run + 1}, '{o}'");
            }
        }
    }

    [Fact]
    public void AnIndexOutOfRangeIsTheKernelsError()
    {
        var model = Arithmetic(5);
        using var graph = OnnxGraph.FromProto(model.Proto(), "arithmetic");
        string Failure(bool hostShapes)
        {
            using var executor = new GraphExecutor(graph) { HostShapeArithmetic = hostShapes };
            using var scope = NewDisposeScope();
            return Assert.Throws<OnnxModelException>(() => executor.Run(model.Feeds().ToDictionary(f => f.Name, ToTorch))).Message;
        }
        string hosted = Failure(true);
        Assert.Contains("out of range", hosted);
        Assert.Equal(Failure(false), hosted);
    }

    void AssertClose(Tensor actual, Tensor expected, double tolerance, string what) => AssertCloseToScale(output, actual, expected, tolerance, what);
}
