using LoKO.Engine.Models;
using LoKO.Engine.Onnx;
using LoKO.Engine.Tests.Models;
using Xunit.Abstractions;
using static TorchSharp.torch;
using static LoKO.Engine.Tests.Models.PlanRuns;

namespace LoKO.Engine.Tests.Onnx;

/// <summary>
/// At two threads, MiniLM's small steps run on the calling thread alone and its big products on both; the run
/// leaves the caller's thread count as it found it, even when a step fails; the outputs equal a one-thread run's.
/// </summary>
[Collection(ModelCollection.Name)]
public class StepThreadsTests(ModelFixture models, ITestOutputHelper output)
{
    /// <summary>Records the threads each hooked node ran with.</summary>
    sealed class ThreadsSeen(string opType) : INodeHook
    {
        public List<(string Op, long Elements, int Threads)> Seen { get; } = [];
        public bool Hooks(OnnxNode node) => node.OpType == opType;
        public Tensor After(OnnxNode node, IReadOnlyList<Tensor?> inputs, Tensor output)
        {
            Seen.Add((node.OpType, inputs[0]!.numel(), StepThreads.Current));
            return output;
        }
    }

    [Fact]
    public void SmallStepsRunOnOneThreadBigProductsOnAllAndTheCallersCountIsKept()
    {
        Assert.True(StepThreads.Available, "this LibTorch's OpenMP threads should be settable per step");
        var model = models.MiniLm;
        int previous = get_num_threads();
        try
        {
            set_num_threads(2);
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            string[] outputs = [.. model.Graph.Outputs.Select(o => o.Name)];
            // A few tokens: every MatMul is below the threshold; two texts of the longest length: the FFN's are far above it.
            foreach (var (texts, bigProducts) in new[] { ((IReadOnlyList<ModelInput>)[new TextInput("a short one")], false), (LongTexts(2), true) })
            {
                var hook = new ThreadsSeen("MatMul");
                using var inputs = model.Encode(texts);
                model.Executor.Run(inputs.Feeds, outputs, hook);
                Assert.Equal(2, get_num_threads());
                Assert.NotEmpty(hook.Seen);
                // x [.., k] by w [k, n ≤ 1536]: at most 1536 multiply-adds per element of x.
                Assert.All(hook.Seen.Where(s => s.Elements * 1536 < StepThreads.ParallelMultiplyAdds), s => Assert.Equal(1, s.Threads));
                Assert.Equal(bigProducts, hook.Seen.Any(s => s.Threads == 2));
            }
        }
        finally
        {
            set_num_threads(previous);
        }
    }

    [Fact]
    public void OutputsAtTwoThreadsEqualOneThreadsAndAFailedRunLeavesTheCountAsItWas()
    {
        var model = models.MiniLm;
        string[] outputs = [.. model.Graph.Outputs.Select(o => o.Name)];
        int previous = get_num_threads();
        try
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            using var inputs = model.Encode(LongTexts(2));
            set_num_threads(1);
            var one = model.Executor.Run(inputs.Feeds, outputs);
            set_num_threads(2);
            var two = model.Executor.Run(inputs.Feeds, outputs);
            foreach (var o in outputs) AssertCloseToScale(output, two[o], one[o], 1e-5, o);

            var failing = new Failing();
            Assert.ThrowsAny<Exception>(() => model.Executor.Run(inputs.Feeds, outputs, failing));
            Assert.Equal(2, get_num_threads());
        }
        finally
        {
            set_num_threads(previous);
        }
    }

    sealed class Failing : INodeHook
    {
        public bool Hooks(OnnxNode node) => node.OpType == "Softmax";
        public Tensor After(OnnxNode node, IReadOnlyList<Tensor?> inputs, Tensor output) => throw new InvalidOperationException("hook failed");
    }

    static IReadOnlyList<ModelInput> LongTexts(int count) =>
        [.. Enumerable.Range(0, count).Select(i => new TextInput(string.Join(' ', Enumerable.Repeat($"the quick brown fox {i} jumps over the lazy dog", 30))))];
}
