using LoKO.Engine.Checkpoints;
using LoKO.Engine.Filter;
using LoKO.Engine.Optimizers;
using LoKO.Engine.Tests.Filter;
using TorchSharp.Modules;
using LoKO.Engine.Tests.Platform;
using static TorchSharp.torch;

namespace LoKO.Engine.Tests.Checkpoints;

/// <summary>
/// A snapshot taken at step k and encoded while the optimizer goes on stepping in place (before the encoding and
/// beside it, on another thread) is the checkpoint of step k: byte for byte the file a run stopped at k saves, and
/// restoring it gives that run's θ and state. Disposed, it leaves no tensor alive.
/// </summary>
public class StateSnapshotTests
{
    const int SnapshotAt = 14, StepsBeforeEncoding = 6, StepsBesideEncoding = 20;

    // The shared head's Σ and short guard windows: Σ's packing, the guard's windows and best state are in the file too.
    static readonly LokoOptions Options = LokoVariants.Named(LokoVariants.NaturalRoot) with
    {
        Guard = new GuardOptions { Window = 5, DriftWindows = 2, ReferenceWindows = 3 },
    };

    static readonly TinyMlp Model = new(classes: 3);
    static readonly IReadOnlyList<(double[] X, int Label)> Examples = TinyMlp.Stream(3, SnapshotAt + StepsBeforeEncoding + StepsBesideEncoding, seed: 8);

    static void Learn(IOnlineOptimizer optimizer, Tensor theta, IEnumerable<(double[] X, int Label)> examples)
    {
        foreach (var (x, label) in examples)
        {
            using var target = tensor(new long[] { label });
            optimizer.Step(Model.Pass(theta, x), target).Dispose();
        }
    }

    /// <summary>
    /// Steps to <see cref="SnapshotAt"/>, snapshots, steps on, then encodes the snapshot on another thread while stepping
    /// further: the encoded bytes, and θ after the last step (to show the steps did change the state).
    /// </summary>
    static (byte[] File, double[] ThetaAfter) SnapshotWhileLearning(IOnlineOptimizer optimizer, Parameter theta, Func<StateSnapshot> snapshot)
    {
        Learn(optimizer, theta, Examples.Take(SnapshotAt));
        using var taken = snapshot();
        Learn(optimizer, theta, Examples.Skip(SnapshotAt).Take(StepsBeforeEncoding));
        using var file = new MemoryStream();
        var encoding = Task.Run(() => taken.Write(file));
        Learn(optimizer, theta, Examples.Skip(SnapshotAt + StepsBeforeEncoding));
        encoding.GetAwaiter().GetResult();
        return (file.ToArray(), theta.data<double>().ToArray());
    }

    [Fact]
    public void AFilterSnapshotEncodedWhileItLearnsOnIsTheCheckpointOfItsStep()
    {
        // The run stopped at the snapshot's step, saved directly.
        using var stoppedTheta = Model.NewTheta(seed: 4);
        using var stopped = new LokoFilter(stoppedTheta, Options, head: Model.Head);
        Learn(stopped, stoppedTheta, Examples.Take(SnapshotAt));
        using var saved = new MemoryStream();
        stopped.State.Save(saved);

        using var liveTheta = Model.NewTheta(seed: 4);
        using var live = new LokoFilter(liveTheta, Options, head: Model.Head);
        var (file, thetaAfter) = SnapshotWhileLearning(live, liveTheta, live.State.Snapshot);

        Assert.NotEqual(stoppedTheta.data<double>().ToArray(), thetaAfter);
        Assert.True(stopped.State.Guard.Theta is not null && stopped.State.Sigma is not null, "the guard's best state and Σ are part of the file");
        Assert.Equal(saved.ToArray(), file);

        using var restoredTheta = Model.NewTheta(seed: 99);
        using var restored = KalmanState.Load(new MemoryStream(file), restoredTheta);
        Assert.Equal(stoppedTheta.data<double>().ToArray(), restoredTheta.data<double>().ToArray());
        Assert.Equal(stopped.State.P!.data<double>().ToArray(), restored.P!.data<double>().ToArray());
        Assert.Equal(stopped.State.Sigma!.data<double>().ToArray(), restored.Sigma!.data<double>().ToArray());
        Assert.Equal((stopped.State.Steps, stopped.State.Applied), (restored.Steps, restored.Applied));
    }

    [Theory]
    [InlineData("adamw")]
    [InlineData("adagrad")]
    public void AGradientOptimizerSnapshotEncodedWhileItStepsOnIsTheCheckpointOfItsStep(string name)
    {
        GradientOptimizer Create(Parameter theta) =>
            name == "adamw" ? GradientOptimizer.AdamW(theta, lr: 1e-2) : GradientOptimizer.AdaGrad(theta, lr: 1e-2);

        using var stoppedTheta = Model.NewTheta(seed: 4);
        using var stopped = Create(stoppedTheta);
        Learn(stopped, stoppedTheta, Examples.Take(SnapshotAt));
        using var saved = new MemoryStream();
        stopped.SaveState(saved);

        using var liveTheta = Model.NewTheta(seed: 4);
        using var live = Create(liveTheta);
        var (file, thetaAfter) = SnapshotWhileLearning(live, liveTheta, live.Snapshot);

        Assert.NotEqual(stoppedTheta.data<double>().ToArray(), thetaAfter);
        Assert.Equal(saved.ToArray(), file);

        // Restored, it continues as the stopped run does.
        using var restoredTheta = Model.NewTheta(seed: 99);
        using var restored = Create(restoredTheta);
        restored.LoadState(new MemoryStream(file));
        Assert.Equal(stoppedTheta.data<double>().ToArray(), restoredTheta.data<double>().ToArray());
        Learn(stopped, stoppedTheta, Examples.Skip(SnapshotAt));
        Learn(restored, restoredTheta, Examples.Skip(SnapshotAt));
        Assert.Equal(stoppedTheta.data<double>().ToArray(), restoredTheta.data<double>().ToArray());
    }

    [Fact]
    public void ADisposedSnapshotEncodedOnAnotherThreadLeavesNoTensorAlive()
    {
        using var theta = Model.NewTheta(seed: 4);
        using var filter = new LokoFilter(theta, Options, head: Model.Head);
        Learn(filter, theta, Examples.Take(SnapshotAt));
        long before = LiveTensors.Count();
        for (int i = 0; i < 3; i++)
        {
            using var snapshot = filter.State.Snapshot();
            Task.Run(() => snapshot.Write(Stream.Null)).GetAwaiter().GetResult();
        }
        Assert.Equal(before, LiveTensors.Count());
    }
}
