using System.Diagnostics;
using System.Globalization;
using LoKO.Bench.Load;
using LoKO.Bench.Serving;
using LoKO.Contracts.V1;
using LoKO.Engine.Presets;

namespace LoKO.Bench.Scale;

/// <summary>
/// `tenants`: the built server as a child process with a resident-tenant budget; a warm-up tenant sets the memory
/// baseline, then <see cref="TenantsSettings.Count"/> minilm-l6 tenants are created, each learns a few examples and
/// predicts once, while the server's memory is sampled; then evicted tenants are loaded again and timed
/// (<see cref="ColdLoads"/>). Every request goes through the public contract; a failed one is counted, not fatal.
/// </summary>
public static class TenantsRun
{
    const string Preset = ModelPresets.MiniLmL6;
    static readonly TimeSpan IdleLimit = TimeSpan.FromMinutes(10);
    const int WarmupExamples = 8, ShapeWarmup = 400;

    public static async Task<(TenantsReport Report, IReadOnlyList<ServerSample> Samples)> RunAsync(TenantsSettings s, IReadOnlyList<string> labels, IReadOnlyList<LabeledText> texts,
                                                     Action<string> log, CancellationToken ct = default)
    {
        s.Validate();
        var data = Path.Combine(s.WorkDirectory, "data");
        var (server, adminKey) = await ScaleServer.StartAsync(s.ServerPath, data, s.Threads,
        [
            $"--LoKO:ResidentTenantBudgetMB={s.BudgetMB.ToString(CultureInfo.InvariantCulture)}",
            // A kept prediction is one more write per Predict: not what is measured here.
            "--LoKO:MaxPendingPredictions=0",
        ], ct);
        await using var _ = server;
        using var client = new LoadClient(server.Rest, server.Grpc, adminKey);
        var clock = Stopwatch.StartNew();
        await using var sampler = new ServerSampler(server, client.MetricsAsync, TimeSpan.FromSeconds(s.SampleSeconds), clock);
        var failures = new RequestFailures();

        // The base model loads with the first tenant, and the first steps and forwards build their plans; the longest
        // texts take the most memory a step and a forward need. The baseline is the most the process held meanwhile.
        var warmup = await client.CreateTenantAsync("warmup", Preset, labels);
        var longest = texts.OrderByDescending(t => t.Text.Length).Take(WarmupExamples).ToList();
        var held = new List<ServerSample>();
        foreach (var example in longest)
        {
            await client.LearnAsync(warmup, [example], ct);
            await client.PredictAsync(warmup, example.Text);
            held.Add(await sampler.SampleAsync(ct));
        }
        // Every text length once: the executor caches shape values per input shape, for the whole process.
        foreach (var text in texts.DistinctBy(t => t.Text.Length).Take(ShapeWarmup)) await client.PredictAsync(warmup, text.Text);
        await WaitForIdleAsync(client, ct);
        held.Add(await sampler.SampleAsync(ct));
        var baseline = held.MaxBy(x => x.RssBytes)!;
        log(Inv($"tenants: baseline RSS {Mb(baseline.RssBytes):F0} MiB (base model loaded, one tenant learned and predicted {WarmupExamples} of the longest texts); creating {s.Count} tenants, {s.Examples} examples each, budget {s.BudgetMB} MiB"));

        var tenants = new LoadTenant?[s.Count];
        int next = -1, created = 0, done = 0;
        var creating = Stopwatch.StartNew();
        async Task Worker()
        {
            for (int i = Interlocked.Increment(ref next); i < s.Count; i = Interlocked.Increment(ref next))
            {
                var id = Inv($"t{i:D5}");
                LoadTenant? tenant = null;
                if (await failures.TryAsync($"CreateTenant {id}", async () => tenant = await client.CreateTenantAsync(id, Preset, labels)))
                {
                    tenants[i] = tenant;
                    Interlocked.Increment(ref created);
                    await failures.TryAsync($"Learn {id}", () => client.LearnAsync(tenant!, Cycle(texts, i * s.Examples, s.Examples), ct));
                    await failures.TryAsync($"Predict {id}", () => client.PredictAsync(tenant!, texts[i % texts.Count].Text));
                }
                int d = Interlocked.Increment(ref done);
                if (d % Math.Max(1, s.Count / 10) == 0 && sampler.Samples is [.., var last])
                    log(Inv($"tenants: {d}/{s.Count} after {creating.Elapsed.TotalSeconds:F0} s; RSS {Mb(last.RssBytes):F0} MiB, {last.ResidentTenants} resident (estimate {Mb(last.ResidentEstimateBytes ?? 0):F0} MiB), {failures.Count} failed"));
            }
        }
        await Task.WhenAll(Enumerable.Range(0, s.Concurrency).Select(_ => Task.Run(Worker, ct)));
        if (server.ExitCode is { } exit) log(Inv($"tenants: the server exited with {exit} during the creation (its output: {ScaleServer.LogFile})"));
        double createSeconds = creating.Elapsed.TotalSeconds;
        // Steady state: the second half of the creation, when as many tenants are resident as the budget allows.
        var steady = sampler.Samples.Where(x => x.Seconds >= clock.Elapsed.TotalSeconds - createSeconds / 2).Select(x => (double)x.RssBytes).ToList();
        await WaitForIdleAsync(client, ct);

        var cold = await ColdLoadsAsync(client, s, tenants, texts, failures, sampler, log, ct);
        var final = await sampler.SampleAsync(ct);
        var samples = sampler.Samples.Where(x => x.Seconds > held[^1].Seconds).ToList();
        long peak = samples.Max(x => x.RssBytes);
        double steadyRss = steady.Count > 0 ? Percentile.Of(steady, 50) : final.RssBytes;
        var report = new TenantsReport(
            s.Count, created, s.Examples, s.BudgetMB,
            Mb(baseline.RssBytes), Mb(peak), Mb(peak - baseline.RssBytes), Mb((long)steadyRss), Mb((long)steadyRss - baseline.RssBytes),
            MaxMb(samples, x => x.ResidentEstimateBytes), samples.Max(x => x.ResidentTenants), MaxMb(samples, x => x.ManagedCommittedBytes),
            samples.Max(x => x.TorchTensors), Mb(final.RssBytes),
            createSeconds, created / createSeconds, CheckpointMeanKB(data), cold,
            failures.Count, failures.First,
            final.StepCount > 0 ? 1000 * final.StepSeconds / final.StepCount : null);
        return (report, sampler.Samples);
    }

    /// <summary>
    /// Tenants from the first half of those created (the least recently used: evicted long ago), in a seeded order,
    /// alternately timed directly and split (<see cref="ColdLoads"/>); each one's counters are checked after its load.
    /// </summary>
    static async Task<ColdLoads> ColdLoadsAsync(LoadClient client, TenantsSettings s, LoadTenant?[] tenants, IReadOnlyList<LabeledText> texts,
                                                RequestFailures failures, ServerSampler sampler, Action<string> log, CancellationToken ct)
    {
        var resident = (await sampler.SampleAsync(ct)).ResidentTenants ?? 0;
        if (resident >= s.Count / 2)
            log(Inv($"tenants: {resident} tenants are resident, the first half of {s.Count} may not all be evicted: the cold loads below may be warm"));
        var random = new Random(s.Seed);
        var picked = tenants.Take(s.Count / 2).OfType<LoadTenant>().OrderBy(_ => random.Next()).Take(2 * s.ColdSamples).ToList();
        List<double> direct = [], load = [], first = [], warm = [];
        int mismatches = 0;
        for (int k = 0; k < picked.Count; k++)
        {
            var tenant = picked[k];
            var text = texts[(k * 7 + 3) % texts.Count].Text;
            Tenant? described = null;
            var clock = Stopwatch.StartNew();
            if (k % 2 == 0)
            {
                if (!await failures.TryAsync($"Predict {tenant.Id} (cold)", () => client.PredictAsync(tenant, text))) continue;
                direct.Add(clock.Elapsed.TotalMilliseconds);
            }
            else
            {
                if (!await failures.TryAsync($"GetTenant {tenant.Id} (cold)", async () => described = await client.GetTenantAsync(tenant, ct))) continue;
                load.Add(clock.Elapsed.TotalMilliseconds);
                clock.Restart();
                if (!await failures.TryAsync($"Predict {tenant.Id} (first)", () => client.PredictAsync(tenant, text))) continue;
                first.Add(clock.Elapsed.TotalMilliseconds);
            }
            clock.Restart();
            if (!await failures.TryAsync($"Predict {tenant.Id} (warm)", () => client.PredictAsync(tenant, text))) continue;
            warm.Add(clock.Elapsed.TotalMilliseconds);
            if (described is null) await failures.TryAsync($"GetTenant {tenant.Id}", async () => described = await client.GetTenantAsync(tenant, ct));
            // Every acknowledged example is in the log, and learned (or waiting to be: an eviction never loses one).
            if (described is { } t && (t.ExamplesAccepted != s.Examples || t.ExamplesApplied + t.ExamplesRejected + t.QueueDepth != s.Examples))
            {
                mismatches++;
                log(Inv($"tenants: {tenant.Id} reloaded with {t.ExamplesAccepted} accepted, {t.ExamplesApplied} applied, {t.ExamplesRejected} rejected, {t.QueueDepth} queued; expected {s.Examples}"));
            }
        }
        return new ColdLoads(Spread.Of(direct), Spread.Of(load), Spread.Of(first), Spread.Of(warm), picked.Count, mismatches);
    }

    /// <summary>Until no resident tenant has examples waiting to be learned (<c>loko_queue_depth</c>).</summary>
    static async Task WaitForIdleAsync(LoadClient client, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        while ((await client.MetricsAsync(ct))?.Sum("loko_queue_depth") is > 0)
        {
            if (clock.Elapsed > IdleLimit) throw new LoadFailure($"the tenants' queues did not drain within {IdleLimit.TotalMinutes:F0} min");
            await Task.Delay(200, ct);
        }
    }

    /// <summary>Mean size of each tenant's newest checkpoint file, KiB; null when none was written.</summary>
    static double? CheckpointMeanKB(string dataDirectory)
    {
        var root = Path.Combine(dataDirectory, "checkpoints");
        if (!Directory.Exists(root)) return null;
        var sizes = Directory.EnumerateDirectories(root)
            .Select(d => Directory.EnumerateFiles(d, "v*.safetensors").Order(StringComparer.Ordinal).LastOrDefault())
            .OfType<string>().Select(f => new FileInfo(f).Length).ToList();
        return sizes.Count > 0 ? sizes.Average() / 1024 : null;
    }

    static IReadOnlyList<LabeledText> Cycle(IReadOnlyList<LabeledText> texts, int start, int count) =>
        [.. Enumerable.Range(start, count).Select(i => texts[i % texts.Count])];

    static double Mb(long bytes) => SampleCsv.ToMb(bytes);

    static double? MaxMb(IEnumerable<ServerSample> samples, Func<ServerSample, long?> value) =>
        samples.Select(value).OfType<long>().DefaultIfEmpty(-1).Max() is var m && m >= 0 ? Mb(m) : null;

    static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
