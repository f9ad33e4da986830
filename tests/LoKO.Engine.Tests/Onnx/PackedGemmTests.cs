using LoKO.Engine.Lora;
using LoKO.Engine.Models;
using LoKO.Engine.Onnx;
using LoKO.Engine.Onnx.Fusion;
using LoKO.Engine.Presets;
using LoKO.Engine.Tests.Models;
using Xunit.Abstractions;
using static TorchSharp.torch;
using static LoKO.Engine.Tests.Models.PlanRuns;
using DataType = Onnx.TensorProto.Types.DataType;
using static LoKO.Engine.Tests.Onnx.OnnxRuntimeReference;

namespace LoKO.Engine.Tests.Onnx;

/// <summary>
/// MatMul+Add steps with a frozen float32 weight run as MKL's packed GEMM on the CPU: the real MiniLM's outputs
/// equal the node-by-node plan's within 1e-5 and ONNX Runtime's within 1e-4, at one thread and at two; a step
/// whose input needs a gradient takes the plain linear, so gradients through LoRA sites stay the unpacked ones.
/// </summary>
[Collection(ModelCollection.Name)]
public class PackedGemmTests(ModelFixture models, ITestOutputHelper output)
{
    static long Products(GraphExecutor executor) => executor.PackedWeights.All.Sum(w => w.Products);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void MiniLmRunsItsLinearsPackedAndMatchesTheUnpackedPlanAndOnnxRuntime(int threads)
    {
        Assert.True(MklPackedGemm.Available, "this LibTorch should export MKL's packed GEMM");
        int previous = get_num_threads();
        try
        {
            set_num_threads(threads);
            // MKL's threads are LibTorch's: the packed product runs with the threads every other op gets.
            Assert.Equal(threads, MklPackedGemm.MaxThreads);

            var model = models.MiniLm;
            string[] outputs = [.. model.Graph.Outputs.Select(o => o.Name)];
            using var unfused = Unfused(model);
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            using var inputs = model.Encode(TestInputs.Texts(2));

            long before = Products(model.Executor);
            var packed = model.Executor.Run(inputs.Feeds, outputs);
            // 18 linears alone and 6 of query, key and value as one product each: one packed product per step.
            var products = model.Executor.PlanFor(outputs).Steps.Count(s => s.OpType.StartsWith("MatMul+Add", StringComparison.Ordinal));
            Assert.Equal(24, products);
            Assert.Equal(products, Products(model.Executor) - before);

            var reference = unfused.Run(inputs.Feeds, outputs);
            byte[] bytes;
            using (var s = ModelAssets.OpenMiniLmModel()) { var ms = new MemoryStream(); s.CopyTo(ms); bytes = ms.ToArray(); }
            var feeds = inputs.Feeds.Select(kv => FromTorch(kv.Key, kv.Value)).ToArray();
            var ort = RunOnnxRuntime(bytes, feeds, outputs);
            foreach (var (o, theirs) in outputs.Zip(ort))
            {
                AssertClose(packed[o], reference[o], 1e-5, $"'{o}' against the unpacked plan");
                AssertClose(packed[o], ToTorch(theirs), 1e-4, $"'{o}' against ONNX Runtime");
            }
        }
        finally
        {
            set_num_threads(previous);
        }
    }

    [Fact]
    public void GradientsThroughLoraSitesEqualTheUnpackedPlanAndStepsNeedingOneTakeTheLinear()
    {
        var model = models.MiniLm;
        using var unfused = Unfused(model);
        using var scope = NewDisposeScope();
        using var adapter = model.CreateAdapter(new LoraOptions(), outputs: 3, seed: 9);
        using (no_grad()) adapter.Theta.add_(randn(adapter.Theta.shape[0], generator: new Generator(10)) * 0.01); // B ≠ 0
        using var inputs = model.Encode(TestInputs.Texts(2));
        var labels = tensor(new long[] { 0, 2 });

        (Tensor Features, Tensor Gradient) Run(GraphExecutor executor) => FeaturesAndGradient(model, executor, inputs, adapter, labels);

        long before = Products(model.Executor);
        var fused = Run(model.Executor);
        long packedSteps = Products(model.Executor) - before;
        int linears = model.Executor.PlanFor([model.Pooling.GraphValue], adapter).Steps.Count(s => s.OpType == "MatMul+Add");
        output.WriteLine($"{packedSteps} of {linears} fused linears ran packed in the learning step");
        // Linears before the first site see no gradient and run packed; those after it need dx and take linear.
        Assert.InRange(packedSteps, 1, linears - 1);

        var reference = Run(unfused);
        AssertClose(fused.Features, reference.Features, 1e-5, "features");
        AssertClose(fused.Gradient, reference.Gradient, 1e-5, "gradient w.r.t. θ");
    }

    [Fact]
    public void AnInputThatNeedsAGradientGetsTheExactOneThroughTheWeight()
    {
        var model = FusionCases.Linear(new TinyModel(13).In("x", DataType.Float, [2, 3, 8]), "x", "y").Out("y", DataType.Float);
        using var graph = OnnxGraph.FromProto(model.Proto(), "linear");
        using var fused = new GraphExecutor(graph);
        using var unfused = new GraphExecutor(graph, fuse: false);
        using var scope = NewDisposeScope();
        var x = ToTorch(model.Feeds()[0]);

        Tensor Gradient(GraphExecutor executor)
        {
            var leaf = x.clone().requires_grad_(true);
            var y = executor.Run(new Dictionary<string, Tensor> { ["x"] = leaf }, ["y"])["y"];
            return autograd.grad([(y * y).sum()], [leaf])[0];
        }

        var packedGradient = Gradient(fused);
        Assert.Equal(0, Products(fused));
        AssertClose(packedGradient, Gradient(unfused), 1e-5, "dx");
        using (no_grad())
        {
            var y = fused.Run(new Dictionary<string, Tensor> { ["x"] = x }, ["y"])["y"];
            Assert.Equal(1, Products(fused));
            AssertClose(y, unfused.Run(new Dictionary<string, Tensor> { ["x"] = x }, ["y"])["y"], 1e-5, "y without a gradient");
        }
    }

    [Theory]
    [InlineData(new long[] { 16 })]
    [InlineData(new long[] { 1, 16 })]
    [InlineData(new long[] { 1, 1, 16 })]
    [InlineData(new long[] { 5, 3, 16 })]
    public void OneRowOrManyTheProductIsLinearsAndTheBiasIsLeftAlone(long[] shape)
    {
        using var scope = NewDisposeScope();
        var w = randn(16, 24, generator: new Generator(5));
        var b = randn(24, generator: new Generator(6));
        var bias = b.clone();
        var x = randn(shape, generator: new Generator(7));
        using var packed = new PackedWeights(CPU);
        var weight = packed.For("w", w)!;
        Assert.True(weight.Takes(x, bias));
        var y = weight.Linear(x, bias);
        Assert.Equal([.. shape[..^1], 24L], y.shape);
        // For one row the expanded bias is itself contiguous: the product must not land in it.
        Assert.True(bias.eq(b).all().item<bool>(), "the packed product wrote into the bias");
        AssertClose(y, nn.functional.linear(x, w.t(), b), 1e-5, $"x {string.Join("×", shape)}");
        Assert.Equal(1, weight.Products);
    }

    [Fact]
    public void NothingIsPackedOffTheCpuOrForAWeightOtherThanFloat32()
    {
        using var scope = NewDisposeScope();
        var w = randn(8, 16, generator: new Generator(3));
        using (var cpu = new PackedWeights(CPU))
        {
            Assert.NotNull(cpu.For("w", w));
            Assert.Null(cpu.For("w64", w.to(ScalarType.Float64)));
            Assert.Null(cpu.For("w16", w.to(ScalarType.Float16)));
        }
        using var cuda = new PackedWeights(new Device(TorchSharp.DeviceType.CUDA, 0));
        Assert.Null(cuda.For("w", w));
        Assert.Empty(cuda.All);
    }

    void AssertClose(Tensor actual, Tensor expected, double tolerance, string what) => AssertCloseToScale(output, actual, expected, tolerance, what);
}
