using TorchSharp;
using static TorchSharp.torch;

namespace LoKO.Engine.Tests.Platform;

public class TorchSharpLoadTests
{
    [Fact]
    public void LibTorchLoadsAndComputesWithAutograd()
    {
        using var scope = NewDisposeScope();
        var x = tensor(new float[] { 1, 2, 3 }, requires_grad: true);
        var y = (x * x).sum();
        var g = torch.autograd.grad(new[] { y }, new[] { x })[0];
        Assert.Equal(new float[] { 2, 4, 6 }, g.data<float>().ToArray());
        var m = matmul(ones(2, 3), ones(3, 4));
        Assert.Equal(3f, m[1, 2].item<float>());
    }
}
