using LoKO.Engine.Filter;
using LoKO.Engine.Optimizers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoKO.Engine.Tests.Filter;

/// <summary>
/// The shipped models run in float32, so θ is float32: every optimizer must step on it (scalar reads such
/// as the loss must not assume float64).
/// </summary>
public class SinglePrecisionTests
{
    const int Features = 6, Classes = 3;

    static (Tensor X, long Label)[] Stream(int count)
    {
        var generator = new Generator(11);
        var w = randn(Classes, Features, generator: generator);
        return Enumerable.Range(0, count).Select(_ =>
        {
            var x = randn(1, Features, generator: generator);
            return (x, matmul(x, w.t()).argmax(1).item<long>());
        }).ToArray();
    }

    static Tensor Logits(Parameter theta, Tensor x) =>
        matmul(x, theta.narrow(0, 0, Classes * Features).view(Classes, Features).t()) + theta.narrow(0, Classes * Features, Classes);

    [Theory]
    [InlineData("auto")]
    [InlineData("bounded")]
    [InlineData("adamw")]
    [InlineData("logits")]
    [InlineData("logits-shared-gradient")]
    public void EveryOptimizerStepsOnAFloat32Theta(string which)
    {
        var head = new HeadBlock(0, Classes * Features, Classes, Features);
        var logits = new LokoOptions { Observation = ObservationSpace.Logits };
        using var theta = new Parameter(zeros(Classes * Features + Classes, ScalarType.Float32), requires_grad: true);
        using IOnlineOptimizer optimizer = which switch
        {
            "adamw" => GradientOptimizer.AdamW(theta, 1e-2),
            "bounded" => new LokoFilter(theta, new LokoOptions { P0 = InitialCovariance.Bounded, WarmupExamples = 5 }),
            "logits" => new LokoFilter(theta, logits, head: head),
            "logits-shared-gradient" => new LokoFilter(theta, logits with
            {
                Head = HeadCovariance.Shared, DiagonalObservation = DiagonalObservation.Gradient, DiagonalForm = DiagonalForm.Precision,
            }, head: head),
            _ => new LokoFilter(theta, new LokoOptions()),
        };
        int applied = 0;
        foreach (var (x, label) in Stream(30))
        {
            using var scope = NewDisposeScope();
            var pass = new ForwardPass(() => Logits(theta, x)) { Features = () => x };
            using var outcome = optimizer.Step(pass, tensor(new[] { label }));
            Assert.NotEqual(StepStatus.Rejected, outcome.Status);
            Assert.True(double.IsFinite(outcome.Loss));
            if (outcome.Applied) applied++;
        }
        Assert.True(applied >= 25, $"{applied} of 30 steps applied");
        Assert.Equal(ScalarType.Float32, theta.dtype);
        Assert.True(theta.abs().sum().ToDouble() > 0, "θ did not move");
    }
}
