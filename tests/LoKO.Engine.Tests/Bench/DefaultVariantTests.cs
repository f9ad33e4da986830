using LoKO.Bench.Online;
using LoKO.Bench.Tasks;
using LoKO.Engine.Filter;
using LoKO.Engine.Tests.Models;

namespace LoKO.Engine.Tests.Bench;

/// <summary>
/// The product's default filter against AdaGrad at its best grid rate (1e-2 on every stream measured) on short
/// prefixes of the three public streams, the benchmark protocol in miniature: the full runs are in docs/benchmarks.
/// </summary>
[Collection(ModelCollection.Name)]
public class DefaultVariantTests(ModelFixture models)
{
    [Theory]
    [InlineData("fortunes")]
    [InlineData("mnist")]
    [InlineData("debian")]
    public void TheDefaultLearnsTheFirstExamplesFasterThanAdaGradAtItsBestRate(string taskName)
    {
        var task = TaskData.Load(new TaskSettings { Task = taskName, Limit = Prefix });
        var model = task.Preset == "resnet18" ? models.ResNet18 : models.MiniLm;
        var driver = new RunDriver(model, task, seed: 1);

        var (_, loko) = driver.Run(new OptimizerSpec("loko", null, LokoVariants.Named(LokoVariants.Default)), scoreHeldOut: false);
        var (_, adagrad) = driver.Run(new OptimizerSpec("adagrad", 1e-2), scoreHeldOut: false);

        Assert.Equal(Prefix, loko.Examples);
        Assert.Equal(0, loko.Rejected);
        Assert.Equal(0, loko.GuardEvents);
        Assert.True(loko.OnlineAccuracy >= adagrad.OnlineAccuracy,
            $"{taskName}: the default's online accuracy over {Prefix} examples is {loko.OnlineAccuracy:F3}, AdaGrad 1e-2's {adagrad.OnlineAccuracy:F3}");
        // Well above chance: it learned, not merely tied a baseline that did not.
        Assert.True(loko.OnlineAccuracy > 2.0 / task.Classes.Count, $"{taskName}: online accuracy {loko.OnlineAccuracy:F3}");
    }

    const int Prefix = 200;
}
