using System.Diagnostics;
using System.Globalization;
using LoKO.Bench.Load;
using LoKO.Bench.Serving;
using LoKO.Engine.Presets;

namespace LoKO.Bench.Scale;

/// <summary>
/// `soak`: the built server as a child process; <see cref="SoakSettings.Tenants"/> minilm-l6 tenants each learn an
/// example and ask for a prediction, over and over, for <see cref="SoakSettings.Minutes"/> minutes, while the server's
/// memory, live TorchSharp tensors and step latency are sampled every <see cref="SoakSettings.IntervalSeconds"/>.
/// Native memory that still grows over the second half is a leak (undisposed tensors are the usual one).
/// </summary>
public static class SoakRun
{
    const string Preset = ModelPresets.MiniLmL6;

    public static async Task<SoakReport> RunAsync(SoakSettings s, IReadOnlyList<string> labels, IReadOnlyList<LabeledText> texts, string outDir,
                                                  Action<string> log, CancellationToken ct = default)
    {
        s.Validate();
        var (server, adminKey) = await ScaleServer.StartAsync(s.ServerPath, Path.Combine(s.WorkDirectory, "data"), s.Threads,
        [
            // Appends wait for the learner: every tenant learns at the pace it is sent examples, and no backlog builds up.
            "--LoKO:MaxQueuedExamples=8",
            $"--LoKO:MaxResidentTenants={s.MaxResident.ToString(CultureInfo.InvariantCulture)}",
        ], ct);
        await using var _ = server;
        using var client = new LoadClient(server.Rest, server.Grpc, adminKey);
        var tenants = new List<LoadTenant>();
        for (int i = 0; i < s.Tenants; i++) tenants.Add(await client.CreateTenantAsync($"soak-{i}", Preset, labels));

        var failures = new RequestFailures();
        var duration = TimeSpan.FromMinutes(s.Minutes);
        long acked = 0, predicted = 0;
        var clock = Stopwatch.StartNew();
        IReadOnlyList<ServerSample> samples;
        await using (var sampler = new ServerSampler(server, client.MetricsAsync, TimeSpan.FromSeconds(s.IntervalSeconds), clock))
        {
            await sampler.SampleAsync(ct);
            log(Inv($"soak: {s.Tenants} tenants learning and predicting for {s.Minutes} min, a sample every {s.IntervalSeconds} s"));
            // Calls are never cancelled half way: the last ones finish after the clock runs out.
            async Task Work(LoadTenant tenant, int t)
            {
                for (int k = 0; clock.Elapsed < duration && !ct.IsCancellationRequested; k++)
                {
                    var example = texts[(t * 7919 + k) % texts.Count];
                    if (await failures.TryAsync($"Learn {tenant.Id}", () => client.LearnAsync(tenant, [example]))) Interlocked.Increment(ref acked);
                    if (await failures.TryAsync($"Predict {tenant.Id}", () => client.PredictAsync(tenant, texts[(t * 31 + 5 * k + 1) % texts.Count].Text)))
                        Interlocked.Increment(ref predicted);
                }
            }
            var work = Task.WhenAll(tenants.Select((t, i) => Task.Run(() => Work(t, i), ct)));
            while (await Task.WhenAny(work, Task.Delay(TimeSpan.FromMinutes(1), ct)) != work)
                if (sampler.Samples is [.., var last])
                    log(Inv($"soak: {clock.Elapsed.TotalMinutes:F1} min: RSS {Mb(last.RssBytes):F0} MiB, native {Opt(last.NativeBytes)} MiB, {last.TorchTensors} tensors, {Interlocked.Read(ref acked)} examples, {failures.Count} failed"));
            await work;
            await sampler.SampleAsync(ct);
            samples = sampler.Samples;
        }

        Directory.CreateDirectory(outDir);
        var csv = Path.Combine(outDir, "soak.csv");
        var png = Path.Combine(outDir, "soak.png");
        SampleCsv.Write(csv, samples);
        double half = duration.TotalSeconds / 2;
        var second = samples.Where(x => x.Seconds >= half).ToList();
        LeastSquares Fit(Func<ServerSample, double?> y) =>
            LeastSquares.Fit([.. second.Where(x => y(x) is not null).Select(x => (x.Seconds / 60, y(x)!.Value))]);
        var native = Fit(x => x.NativeBytes is { } b ? Mb(b) : null);
        SoakPlot.Save(png, Inv($"LoKO soak: {s.Tenants} tenants, {s.Minutes} min"), samples, native, half / 60);
        var first = samples[0];
        var middle = samples.First(x => x.Seconds >= half);
        var end = samples[^1];
        return new SoakReport(
            s.Minutes, s.Tenants, s.MaxResident, samples.Count, acked, predicted, end.StepCount - first.StepCount,
            native.Slope,
            Fit(x => x.ManagedCommittedBytes is { } b ? Mb(b) : null).Slope,
            Fit(x => Mb(x.RssBytes)).Slope,
            Fit(x => x.TorchTensors).Slope,
            first.NativeBytes is { } nf ? Mb(nf) : double.NaN, end.NativeBytes is { } nl ? Mb(nl) : double.NaN,
            first.TorchTensors, end.TorchTensors,
            MeanStepMs(first, middle), MeanStepMs(middle, end),
            s.MaxSlopeMBPerMinute, failures.Count, failures.First, csv, png);
    }

    static double? MeanStepMs(ServerSample from, ServerSample to) =>
        to.StepCount > from.StepCount ? 1000 * (to.StepSeconds - from.StepSeconds) / (to.StepCount - from.StepCount) : null;

    static double Mb(long bytes) => SampleCsv.ToMb(bytes);
    static string Opt(long? bytes) => bytes is { } b ? Mb(b).ToString("F0", CultureInfo.InvariantCulture) : "—";
    static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
