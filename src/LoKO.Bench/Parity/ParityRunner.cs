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

        var diff = new DiffTracker();
        double oursMs = 0, ortMs = 0;
        // As for ResNet18: the first text runs once untimed through both engines. Our plan is built and its weights
        // packed on the first run, as ONNX Runtime optimises and prepacks when the session is made (not timed either).
        foreach (var (text, timed) in texts.Take(1).Select(t => (t, false)).Concat(texts.Select(t => (t, true))))
        {
            using var scope = NewDisposeScope();
            using var inputs = model.Encode([new TextInput(text)]);
            model.Executor.Profile = timed ? profile : null;
            var sw = Stopwatch.StartNew();
            var ours = model.Executor.Run(inputs.Feeds, outputs);
            if (timed) oursMs += sw.Elapsed.TotalMilliseconds;

            var feeds = inputs.Feeds.Select(kv => NamedOnnxValue.CreateFromTensor(kv.Key,
                new DenseTensor<long>(kv.Value.data<long>().ToArray(), [.. kv.Value.shape.Select(d => (int)d)]))).ToList();
            sw.Restart();
            using var theirs = session.Run(feeds, outputs);
            if (timed) ortMs += sw.Elapsed.TotalMilliseconds;
            foreach (var r in theirs) diff.Add(Floats(ours[r.Name]), r.AsEnumerable<float>().ToArray());
        }
        return new ParityResult(diff.Relative, oursMs / texts.Count, ortMs / texts.Count, diff.MaxAbsDiff, diff.Scale, texts.Count, threads);
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

        var diff = new DiffTracker();
        double oursMs = 0, ortMs = 0;
        // The first digit runs once untimed through both engines: plan building, kernel selection, first allocations.
        foreach (var (image, timed) in images.Take(1).Select(i => (i, false)).Concat(images.Select(i => (i, true))))
        {
            using var scope = NewDisposeScope();
            var rgb = ImageResizer.ResizeToChw(image, 224, 224);
            net.Profile = timed ? profile : null;
            var sw = Stopwatch.StartNew();
            var x = prep.Run(new Dictionary<string, Tensor> { [prepIn] = tensor(rgb, [1, 3, 224, 224]) })[prepOut];
            var ours = net.Run(new Dictionary<string, Tensor> { [netIn] = x })[netOut];
            if (timed) oursMs += sw.Elapsed.TotalMilliseconds;

            sw.Restart();
            using var prepped = prepSession.Run([NamedOnnxValue.CreateFromTensor(prepIn, new DenseTensor<float>(rgb, shape))]);
            var preppedValues = prepped.First().AsTensor<float>().ToArray();
            using var theirs = netSession.Run([NamedOnnxValue.CreateFromTensor(netIn, new DenseTensor<float>(preppedValues, shape))]);
            if (timed) ortMs += sw.Elapsed.TotalMilliseconds;
            diff.Add(Floats(ours), theirs.First().AsEnumerable<float>().ToArray());
        }
        return new ParityResult(diff.Relative, oursMs / images.Count, ortMs / images.Count, diff.MaxAbsDiff, diff.Scale, images.Count, threads);
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
