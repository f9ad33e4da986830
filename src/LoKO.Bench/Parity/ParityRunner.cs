using System.Diagnostics;
using LoKO.Engine.Data;
using LoKO.Engine.Imaging;
using LoKO.Engine.Models;
using LoKO.Engine.Onnx;
using LoKO.Engine.Presets;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace LoKO.Bench.Parity;

/// <summary>
/// Runs the shipped graphs through our executor and through ONNX Runtime on the same real inputs
/// (fortune texts for MiniLM; MNIST digits through the preprocess graph and ResNet18) and compares
/// every output value.
/// </summary>
public static class ParityRunner
{
    public static ParityResult MiniLm(IReadOnlyList<string> texts, int threads, StepProfile? profile = null)
    {
        using var _ = new TorchThreads(threads);
        using var model = ModelPresets.Load(ModelPresets.MiniLmL6);
        byte[] bytes;
        using (var s = ModelAssets.OpenMiniLmModel()) { var ms = new MemoryStream(); s.CopyTo(ms); bytes = ms.ToArray(); }
        using var session = new InferenceSession(bytes, Options(threads));
        var outputs = model.Graph.Outputs.Select(o => o.Name).ToList();

        float[][] Ours(string text)
        {
            using var scope = NewDisposeScope();
            using var inputs = model.Encode([new TextInput(text)]);
            var ours = model.Executor.Run(inputs.Feeds, outputs);
            return [.. outputs.Select(o => Floats(ours[o]))];
        }
        float[][] Theirs(string text)
        {
            using var scope = NewDisposeScope();
            using var inputs = model.Encode([new TextInput(text)]);
            var feeds = inputs.Feeds.Select(kv => NamedOnnxValue.CreateFromTensor(kv.Key,
                new DenseTensor<long>(kv.Value.data<long>().ToArray(), [.. kv.Value.shape.Select(d => (int)d)]))).ToList();
            using var theirs = session.Run(feeds, outputs);
            return [.. outputs.Select(o => theirs.First(r => r.Name == o).AsEnumerable<float>().ToArray())];
        }
        // As for ResNet18: the first text runs once untimed through both engines. Our plan is built and its weights
        // packed on the first run, as ONNX Runtime optimises and prepacks when the session is made (not timed either).
        return Compare(texts, Ours, Theirs, e => model.Executor.Profile = e ? profile : null, threads);
    }

    /// <summary>Digits resized to 224×224 RGB, then ResNetPreprocess.onnx, then ResNet18.onnx — each graph run by both engines.</summary>
    public static ParityResult ResNet18(IReadOnlyList<RgbImage> images, int threads, StepProfile? profile = null)
    {
        using var _ = new TorchThreads(threads);
        using var prepGraph = OnnxGraph.Load(ModelAssets.ResNetPreprocessPath);
        using var prep = new GraphExecutor(prepGraph);
        using var graph = OnnxGraph.Load(ModelAssets.ResNet18Path);
        using var net = new GraphExecutor(graph);
        using var prepSession = new InferenceSession(ModelAssets.ResNetPreprocessPath, Options(threads));
        using var netSession = new InferenceSession(ModelAssets.ResNet18Path, Options(threads));
        string prepIn = prepGraph.Inputs[0].Name, prepOut = prepGraph.Outputs[0].Name;
        string netIn = graph.Inputs[0].Name, netOut = graph.Outputs[0].Name;
        int[] shape = [1, 3, 224, 224];

        float[][] Ours(RgbImage image)
        {
            using var scope = NewDisposeScope();
            var x = prep.Run(new Dictionary<string, Tensor> { [prepIn] = tensor(ImageResizer.ResizeToChw(image, 224, 224), [1, 3, 224, 224]) })[prepOut];
            return [Floats(net.Run(new Dictionary<string, Tensor> { [netIn] = x })[netOut])];
        }
        float[][] Theirs(RgbImage image)
        {
            using var prepped = prepSession.Run([NamedOnnxValue.CreateFromTensor(prepIn, new DenseTensor<float>(ImageResizer.ResizeToChw(image, 224, 224), shape))]);
            var preppedValues = prepped.First().AsTensor<float>().ToArray();
            using var theirs = netSession.Run([NamedOnnxValue.CreateFromTensor(netIn, new DenseTensor<float>(preppedValues, shape))]);
            return [theirs.First().AsEnumerable<float>().ToArray()];
        }
        // The first digit runs once untimed through both engines: plan building, kernel selection, first allocations.
        return Compare(images, Ours, Theirs, e => net.Profile = e ? profile : null, threads);
    }

    /// <summary>
    /// Each engine in passes of its own over the inputs, the first input once untimed before the first: a thread pool
    /// that spins after a run (ONNX Runtime's, by default) then takes cores from itself alone, never from the other
    /// engine's next run. Three rounds of one pass each, alternating; each engine's time is its fastest pass, so
    /// a shared machine's slow spells weigh on neither. Then every output value of the two is compared.
    /// </summary>
    static ParityResult Compare<T>(IReadOnlyList<T> items, Func<T, float[][]> ours, Func<T, float[][]> theirs, Action<bool> profiling, int threads)
    {
        const int Rounds = 3;
        _ = ours(items[0]);
        _ = theirs(items[0]);
        double oursMs = double.MaxValue, ortMs = double.MaxValue;
        List<float[][]> mine = [], reference = [];
        for (int round = 0; round < Rounds; round++)
        {
            // The profile covers one pass, so its per-example figures read as the times do.
            profiling(round == 0);
            var sw = Stopwatch.StartNew();
            mine = [.. items.Select(ours)];
            oursMs = Math.Min(oursMs, sw.Elapsed.TotalMilliseconds);
            profiling(false);
            sw.Restart();
            reference = [.. items.Select(theirs)];
            ortMs = Math.Min(ortMs, sw.Elapsed.TotalMilliseconds);
        }

        var diff = new DiffTracker();
        foreach (var (a, b) in mine.Zip(reference))
            foreach (var (x, y) in a.Zip(b)) diff.Add(x, y);
        return new ParityResult(diff.Relative, oursMs / items.Count, ortMs / items.Count, diff.MaxAbsDiff, diff.Scale, items.Count, threads);
    }

    static SessionOptions Options(int threads) => new()
    {
        IntraOpNumThreads = threads,
        InterOpNumThreads = 1,
        ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
    };

    /// <summary>LibTorch's thread count is process-wide: set it for one measurement and put it back.</summary>
    sealed class TorchThreads : IDisposable
    {
        readonly int _previous = get_num_threads();
        public TorchThreads(int threads) => set_num_threads(threads);
        public void Dispose() => set_num_threads(_previous);
    }

    static float[] Floats(Tensor t) => t.contiguous().data<float>().ToArray();
}
