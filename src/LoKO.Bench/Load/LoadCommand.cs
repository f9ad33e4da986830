using System.Diagnostics;
using Grpc.Core;
using LoKO.Bench.Online;
using LoKO.Engine.Filter;
using LoKO.Engine.Models;
using LoKO.Engine.Presets;
using static TorchSharp.torch;
using static LoKO.Bench.Online.Format;

namespace LoKO.Bench.Load;

/// <summary>
/// `load`: a running server measured as a client sees it — through the public contract only (the generated gRPC
/// client; REST for readiness and metrics) — then the bare engine step on the same texts in this process, so the
/// service's overhead over the step it wraps is one subtraction. Sequence: cold starts, an untimed warm-up tenant, then
/// for each tenant count a learning run (and, after the first, Predict latency on its trained tenant), then the bare step.
/// </summary>
public static class LoadCommand
{
    public const string Usage = "load --target http://HOST:REST_PORT --grpc http://HOST:GRPC_PORT --admin-key KEY [--tenants 1,8] [--examples N] [--in-flight K] [--predicts 200] [--bare-steps 50] [--max-tokens 128] [--threads N] [--device D] [--out DIR]";
    const string Preset = ModelPresets.MiniLmL6;
    const string Optimizer = "loko";
    static readonly string[] Labels = ["computers", "science"];
    const int WarmupExamples = 10;

    public static int Run(BenchArgs args)
    {
        args.Allow("target", "grpc", "admin-key", "tenants", "examples", "in-flight", "predicts", "bare-steps", "max-tokens", "threads", "out", "device");
        var device = Devices.Resolve(args);
        Threads.Apply(args);
        var rest = Address(args, "target");
        var grpc = Address(args, "grpc");
        var adminKey = args.String("admin-key") ?? throw new ArgumentException("--admin-key is required");
        var counts = args.List("tenants", ["1", "8"]).Select(TenantCount).Distinct().ToList();
        int n = args.Int("examples", 500), predicts = args.Int("predicts", 200), bareSteps = args.Int("bare-steps", 50);
        // Unset: every stream writes as fast as flow control allows.
        int? inFlight = args.IntOrNull("in-flight");
        // Must match the server's LoKO:MaxTokens (its default is the preset default) for the bare step to see the same inputs.
        int maxTokens = args.Int("max-tokens", new PresetOptions().MaxTokens);
        var outDir = args.String("out") ?? Path.Combine("artifacts", "load");
        var texts = LabeledText.Fortunes(Labels);

        Console.Error.WriteLine($"load: {Preset}, labels {string.Join("/", Labels)}, {n} examples per tenant{(inFlight is { } k ? $" (at most {k} in flight)" : "")}, tenants {string.Join(",", counts)}; server {rest} (gRPC {grpc})");
        Service service;
        try
        {
            using var client = new LoadClient(rest, grpc, adminKey);
            service = MeasureServiceAsync(client, counts, n, inFlight, predicts, texts).GetAwaiter().GetResult();
        }
        catch (LoadFailure e)
        {
            Console.Error.WriteLine($"loko-bench load: {e.Message}");
            return 1;
        }
        catch (RpcException e)
        {
            Console.Error.WriteLine($"loko-bench load: a gRPC call failed: {e.StatusCode}: {e.Status.Detail}");
            return 1;
        }

        Console.Error.WriteLine($"load: bare LoKO step in-process, {get_num_threads()} threads, {StepTimer.WarmupSteps} warm-up + {bareSteps} timed steps");
        using var model = ModelPresets.Load(Preset, new PresetOptions { MaxTokens = maxTokens, Device = device.Device });
        var stepExamples = Cycle(texts, 0, StepTimer.Needed(bareSteps, 1))
            .Select(t => ((ModelInput)new TextInput(t.Text), Array.IndexOf(Labels, t.Label))).ToList();
        double bareMs = StepTimer.MeanMs(model, stepExamples, Labels.Length, 1, bareSteps, [adapter => new OptimizerSpec("loko", null).Create(adapter)])[0];
        Console.Error.WriteLine(Inv($"load: bare step {bareMs:F1} ms"));

        double? perExampleMs = service.Runs.FirstOrDefault(r => r.Tenants == 1) is { } single ? 1000 / single.AppliedPerSecond : null;
        var figures = new LoadFigures(Preset, Labels, Optimizer, n, inFlight, maxTokens, get_num_threads(), service.Runs, predicts,
            service.PredictP50Ms, service.PredictP99Ms, service.Cold, bareMs, perExampleMs, perExampleMs - bareMs, perExampleMs / bareMs)
        {
            ServerDevice = service.Readiness.Device,
            ServerBatchTenants = service.Readiness.BatchTenants,
            BareDevice = device.Name,
        };
        LoadReport.Write(outDir, figures, rest, grpc);
        Console.Error.WriteLine($"load: report in {Path.GetFullPath(outDir)}");
        return 0;
    }

    sealed record Service(IReadOnlyList<LearnResult> Runs, double PredictP50Ms, double PredictP99Ms, ColdStart Cold, ServerReadiness Readiness);

    static async Task<Service> MeasureServiceAsync(LoadClient client, IReadOnlyList<int> counts, int n, int? inFlight, int predicts, IReadOnlyList<LabeledText> texts)
    {
        var readiness = await client.RequireReadyAsync();
        Console.Error.WriteLine($"load: the server serves on {readiness.Device ?? "an unnamed device"}, {LoadReport.Batching(readiness.BatchTenants)}");
        // Unique per invocation, so the command can run again against the same server.
        var run = $"load-{DateTime.UtcNow:yyyyMMddHHmmss}-{Random.Shared.Next(10000):D4}";
        var cold = await MeasureColdAsync(client, run, texts[0].Text);
        Console.Error.WriteLine(Inv($"load: first tenant → first prediction {cold.FirstTenantMs:F0} ms; next tenant {cold.TenantMs:F0} ms (CreateTenant {cold.CreateMs:F0} ms)"));
        await WarmUpAsync(client, run, texts);

        var runs = new List<LearnResult>();
        (double P50, double P99)? predict = null;
        foreach (int count in counts)
        {
            var tenants = new List<LoadTenant>();
            for (int i = 0; i < count; i++) tenants.Add(await client.CreateTenantAsync($"{run}-t{count}-{i}", Preset, Labels));
            // Activation is awaited before the clock starts: the run measures steady learning.
            await Task.WhenAll(tenants.Select(t => client.PredictAsync(t, texts[0].Text)));
            var result = await LearnRun.MeasureAsync(client, tenants, [.. tenants.Select((_, i) => Cycle(texts, i * n, n))], inFlight);
            Console.Error.WriteLine(Inv($"load: {count} tenant(s): {result.AppliedPerSecond:F2} applied/s, {result.AcksPerSecond:F1} acks/s, ack p50 {result.AckP50Ms:F1} ms p99 {result.AckP99Ms:F1} ms, {result.WallSeconds:F1} s, {result.Rejected} rejected"));
            runs.Add(result);
            predict ??= await MeasurePredictAsync(client, tenants[0], predicts, texts);
            foreach (var t in tenants) await client.DeleteTenantAsync(t);
        }
        return new Service(runs, predict!.Value.P50, predict.Value.P99, cold, readiness);
    }

    static async Task<ColdStart> MeasureColdAsync(LoadClient client, string run, string text)
    {
        var toPrediction = new double[2];
        double createMs = 0;
        for (int k = 0; k < 2; k++)
        {
            var clock = Stopwatch.StartNew();
            var tenant = await client.CreateTenantAsync($"{run}-cold-{k}", Preset, Labels);
            createMs = clock.Elapsed.TotalMilliseconds;
            await client.PredictAsync(tenant, text);
            toPrediction[k] = clock.Elapsed.TotalMilliseconds;
            await client.DeleteTenantAsync(tenant);
        }
        return new ColdStart(toPrediction[0], toPrediction[1], createMs);
    }

    /// <summary>
    /// The server's first learning steps are slow (allocations, autograd set-up), like the bare step's warm-up steps:
    /// one tenant takes them untimed, so the first run does not carry them.
    /// </summary>
    static async Task WarmUpAsync(LoadClient client, string run, IReadOnlyList<LabeledText> texts)
    {
        var tenant = await client.CreateTenantAsync($"{run}-warmup", Preset, Labels);
        await client.PredictAsync(tenant, texts[0].Text);
        await LearnRun.MeasureAsync(client, [tenant], [Cycle(texts, 0, WarmupExamples)], inFlight: null);
        await client.DeleteTenantAsync(tenant);
    }

    static async Task<(double P50, double P99)> MeasurePredictAsync(LoadClient client, LoadTenant tenant, int calls, IReadOnlyList<LabeledText> texts)
    {
        var ms = new List<double>(calls);
        foreach (var example in Cycle(texts, 0, calls))
        {
            var clock = Stopwatch.StartNew();
            await client.PredictAsync(tenant, example.Text);
            ms.Add(clock.Elapsed.TotalMilliseconds);
        }
        var (p50, p99) = (Percentile.Of(ms, 50), Percentile.Of(ms, 99));
        Console.Error.WriteLine(Inv($"load: Predict p50 {p50:F1} ms, p99 {p99:F1} ms ({calls} sequential calls)"));
        return (p50, p99);
    }

    /// <summary><paramref name="count"/> items from <paramref name="start"/>, wrapping around.</summary>
    static IReadOnlyList<LabeledText> Cycle(IReadOnlyList<LabeledText> texts, int start, int count) =>
        [.. Enumerable.Range(start, count).Select(i => texts[i % texts.Count])];

    static Uri Address(BenchArgs args, string option) =>
        args.String(option) is not { } value ? throw new ArgumentException($"--{option} is required (e.g. http://127.0.0.1:5000)")
        : Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" ? uri
        : throw new ArgumentException($"--{option} must be an http(s) address, got '{value}'");

    static int TenantCount(string s) =>
        int.TryParse(s, out int n) && n > 0 ? n : throw new ArgumentException($"--tenants: '{s}' is not a positive number of tenants");
}
