using LoKO.Engine.Checkpoints;
using LoKO.Engine.Filter;
using LoKO.Engine.Tests.Platform;
using static TorchSharp.torch;

namespace LoKO.Engine.Tests.Filter;

/// <summary>
/// The filter's state in a checkpoint and in memory: the shared head's Σ stored as its upper triangle and restored bit
/// for bit, and no tensor left alive once a filter, or a state loaded from a file, is disposed.
/// </summary>
public class CheckpointFootprintTests
{
    static readonly LokoOptions NaturalRoot = LokoVariants.Named(LokoVariants.NaturalRoot);

    static long[] Bits(Tensor t) => [.. t.detach().cpu().contiguous().data<double>().ToArray().Select(BitConverter.DoubleToInt64Bits)];

    [Fact]
    public void ASymmetricMatrixIsStoredAsItsUpperTriangleAndComesBackBitForBit()
    {
        using var scope = NewDisposeScope();
        var a = randn(5, 5, dtype: ScalarType.Float64);
        var sigma = a + a.t();
        sigma[1, 3] = tensor(-0.0, ScalarType.Float64);
        sigma[3, 1] = tensor(-0.0, ScalarType.Float64);
        sigma[0, 4] = tensor(double.NaN, ScalarType.Float64);
        sigma[4, 0] = tensor(double.NaN, ScalarType.Float64);
        var tensors = new Dictionary<string, Tensor>();
        SymmetricPacking.Put(tensors, "sigma", sigma);
        Assert.Equal(["sigma.upper"], tensors.Keys);
        Assert.Equal(15, tensors["sigma.upper"].numel());
        Assert.Equal(Bits(sigma), Bits(SymmetricPacking.Get(tensors, "sigma")!));

        // One bit off its mirror: kept whole.
        var skewed = sigma.clone();
        skewed[2, 0] = tensor(BitConverter.Int64BitsToDouble(BitConverter.DoubleToInt64Bits(sigma[0, 2].item<double>()) ^ 1), ScalarType.Float64);
        var whole = new Dictionary<string, Tensor>();
        SymmetricPacking.Put(whole, "sigma", skewed);
        Assert.Equal(["sigma"], whole.Keys);
        Assert.Equal(Bits(skewed), Bits(SymmetricPacking.Get(whole, "sigma")!));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(385)]
    public void ThePackedTriangleIsTheFormatsRowByRowUpperTriangle(int side)
    {
        // The format as first written, with tensor ops: the upper triangle selected through a mask, row by row.
        using var scope = NewDisposeScope();
        var a = randn(side, side, dtype: ScalarType.Float64);
        var sigma = a + a.t();
        sigma[0, side - 1] = tensor(double.NaN, ScalarType.Float64);
        sigma[side - 1, 0] = tensor(double.NaN, ScalarType.Float64);
        var mask = ones(side, side, dtype: ScalarType.Bool).triu();
        var reference = sigma.masked_select(mask);

        var tensors = new Dictionary<string, Tensor>();
        SymmetricPacking.Put(tensors, "sigma", sigma);
        Assert.Equal(Bits(reference), Bits(tensors["sigma.upper"]));

        // A file packed the old way comes back as the matrix, bit for bit.
        var old = new Dictionary<string, Tensor> { ["sigma.upper"] = reference };
        Assert.Equal(Bits(sigma), Bits(SymmetricPacking.Get(old, "sigma")!));
    }

    [Fact]
    public void TheNaturalRootStateSavesItsSharedHeadPackedAndLoadsExactly()
    {
        var model = new TinyMlp(classes: 3);
        using var theta = model.NewTheta(seed: 4);
        using var filter = new LokoFilter(theta, NaturalRoot, head: model.Head);
        foreach (var (x, label) in TinyMlp.Stream(3, 12, seed: 5)) filter.Step(model.Pass(theta, x), tensor(new long[] { label })).Dispose();

        using var saved = new MemoryStream();
        filter.State.Save(saved);
        saved.Position = 0;
        using (var scope = NewDisposeScope())
        {
            var keys = SafetensorsCodec.Read(new MemoryStream(saved.ToArray())).Tensors.Keys.ToHashSet();
            Assert.Contains("sigma.upper", keys);
            Assert.Contains("guard.sigma.upper", keys);
            Assert.DoesNotContain("sigma", keys);
        }
        using var theta2 = model.NewTheta(seed: 9);
        using var state = KalmanState.Load(saved, theta2);
        Assert.Equal(Bits(filter.State.Sigma!), Bits(state.Sigma!));
        Assert.Equal(Bits(filter.State.Guard.Sigma!), Bits(state.Guard.Sigma!));
        Assert.Equal(Bits(theta), Bits(theta2));
        Assert.Equal(Bits(filter.State.P!), Bits(state.P!));
    }

    [Fact]
    public void ADisposedFilterAndADisposedLoadedStateLeaveNoTensorAlive()
    {
        var model = new TinyMlp(classes: 3);
        var stream = TinyMlp.Stream(3, 8, seed: 5);
        using var theta = model.NewTheta(seed: 4);
        byte[] file;
        using (var trained = new LokoFilter(theta, NaturalRoot, head: model.Head))
        {
            foreach (var (x, label) in stream) trained.Step(model.Pass(theta, x), tensor(new long[] { label })).Dispose();
            using var saved = new MemoryStream();
            trained.State.Save(saved);
            file = saved.ToArray();
        }

        using var target = tensor(new long[] { stream[0].Label });
        long before = LiveTensors.Count();
        using (var filter = new LokoFilter(theta, NaturalRoot, head: model.Head))
            filter.Step(model.Pass(theta, stream[0].X), target).Dispose();
        Assert.Equal(before, LiveTensors.Count());

        for (int i = 0; i < 3; i++)
        {
            var state = KalmanState.Load(new MemoryStream(file), theta);
            new LokoFilter(theta, NaturalRoot, state: state, head: model.Head).Dispose();
        }
        Assert.Equal(before, LiveTensors.Count());
    }
}
