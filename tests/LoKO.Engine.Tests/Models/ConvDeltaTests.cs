using LoKO.Engine.Lora;
using LoKO.Engine.Onnx.Ops;
using Xunit.Abstractions;
using static TorchSharp.torch;
using static LoKO.Engine.Tests.Models.PlanRuns;

namespace LoKO.Engine.Tests.Models;

/// <summary>
/// A conv site's LoRA term per copy, B_k(A_k(x_k)), over unfolded patches and as convolutions grouped by copy: both
/// equal each copy's own two convolutions, in value and in the gradient w.r.t. A, B and x; patches too many, or pads
/// that differ at the two ends, leave it to the grouped convolutions.
/// </summary>
public class ConvDeltaTests(ITestOutputHelper output)
{
    public static TheoryData<long, long[]> Geometries => new()
    {
        { 1, [1, 1, 1, 1] },
        { 2, [1, 1, 1, 1] },
        { 1, [0, 0, 0, 0] },
    };

    [Theory, MemberData(nameof(Geometries))]
    public void BothPerCopyFormsEqualEachCopysOwnConvolutions(long stride, long[] pads)
    {
        using var scope = NewDisposeScope();
        var geometry = new ConvGeometry([stride, stride], [1, 1], pads, "NOTSET", 1);
        var gen = new Generator(21);
        const long K = 3, C = 5, R = 2, Out = 4;
        Tensor Leaf(params long[] shape) => randn(shape, generator: gen).requires_grad_(true);
        var (x, a, b) = (Leaf(K, C, 7, 6), Leaf(K, R, C, 3, 3), Leaf(K, Out, R, 1, 1));

        var reference = cat([.. Enumerable.Range(0, (int)K).Select(k =>
            nn.functional.conv2d(geometry.Apply(x[k].unsqueeze(0), a[k], null), b[k]))], 0);
        var unfolded = AdapterCopies.UnfoldedDelta(geometry, x, a, b);
        Assert.NotNull(unfolded);
        var grouped = AdapterCopies.GroupedDelta(geometry, x, a, b);

        using var weights = randn(reference.shape, generator: gen);
        Tensor[] Gradients(Tensor y) => [.. autograd.grad([(y * weights).sum()], [x, a, b])];
        var expected = Gradients(reference);
        foreach (var (name, delta) in new[] { ("unfolded", unfolded!), ("grouped", grouped) })
        {
            AssertCloseToScale(output, delta, reference, 1e-5, $"{name} delta");
            var got = Gradients(delta);
            string[] names = ["dx", "dA", "dB"];
            for (int i = 0; i < names.Length; i++) AssertCloseToScale(output, got[i], expected[i], 1e-5, $"{name} {names[i]}");
        }
    }

    [Fact]
    public void PadsThatDifferAtTheEndsOrTooManyPatchesTakeTheGroupedConvolutions()
    {
        using var scope = NewDisposeScope();
        var asymmetric = new ConvGeometry([2, 2], [1, 1], [0, 0, 1, 1], "NOTSET", 1);
        Assert.Null(AdapterCopies.UnfoldedDelta(asymmetric, randn([2, 3, 6, 6]), randn([2, 2, 3, 3, 3]), randn([2, 4, 2, 1, 1])));
        var plain = new ConvGeometry([1, 1], [1, 1], [1, 1, 1, 1], "NOTSET", 1);
        // 64 copies × 64 channels × 9 × 56·56: far past the bound.
        Assert.Null(AdapterCopies.UnfoldedDelta(plain, empty([64, 64, 56, 56]), empty([64, 2, 64, 3, 3]), empty([64, 4, 2, 1, 1])));
    }
}
