using System.Diagnostics;
using System.Net;
using LoKO.Contracts.V1;
using Xunit.Abstractions;

namespace LoKO.Server.Tests.Fuzzing;

/// <summary>
/// A seeded fuzzer over every REST route and every gRPC method of a real server (LOKO_FUZZ_SEED, LOKO_FUZZ_REQUESTS
/// run it longer by hand). Valid requests are mixed in, so learning, predicting and feedback go on under fire.
/// </summary>
public class FuzzingTests(ITestOutputHelper output)
{
    static readonly string[] Labels = ["computers", "food", "naïve ☃"];

    [Fact]
    public async Task NoRequestGetsAServerFaultAndEveryAcknowledgedExampleIsAcceptedOnceAndLearned()
    {
        var settings = FuzzSettings.FromEnvironment();
        output.WriteLine($"seed {settings.Seed}, {settings.Requests} requests, {settings.Workers} workers");
        // One LibTorch thread: on a loaded box, intra-op threads that wait for each other made every step and prediction
        // ten times slower. The count is process-wide: the test gives back the one it found.
        int torchThreads = TorchSharp.torch.get_num_threads();
        try
        {
            await RunAsync(settings);
        }
        finally
        {
            TorchSharp.torch.set_num_threads(torchThreads);
        }
    }

    async Task RunAsync(FuzzSettings settings)
    {
        // Small request and message limits, so bodies past them are cheap to send; no guard rails, so nothing freezes
        // the main tenant's learning (the fuzzer waits for it to learn everything it accepted).
        const int maxRequestBytes = 256 * 1024;
        await using var server = await LoKOTestServer.StartAsync(null, $"--LoKO:MaxRequestBytes={maxRequestBytes}", "--LoKO:Guard:Enabled=false", "--LoKO:TorchThreads=1");
        var targets = await TargetsAsync(server);

        var routes = RestRoute.Discover(server.Services);
        var service = global::LoKO.Contracts.V1.LoKO.Descriptor;
        Assert.Empty(routes.Select(r => r.Key).Except(RestGenerators.ByRoute.Keys));   // a route without a generator
        Assert.Empty(RestGenerators.ByRoute.Keys.Except(routes.Select(r => r.Key)));   // a generator for a route that is gone
        Assert.Empty(service.Methods.Select(m => m.Name).Except(GrpcGenerators.ByMethod.Keys));
        Assert.Empty(GrpcGenerators.ByMethod.Keys.Except(service.Methods.Select(m => m.Name)));

        var ledger = new FuzzLedger();
        using var http = RestFuzzer.Client(server.Http.BaseAddress!);
        using var frames = new RawGrpcFrames(server.GrpcAddress, targets, ledger);
        var rest = new RestFuzzer(routes, targets, ledger, http, maxRequestBytes);
        var grpc = new GrpcFuzzer(service, targets, ledger, server.Channel, frames);

        var clock = Stopwatch.StartNew();
        int next = -1;
        await Task.WhenAll(Enumerable.Range(0, settings.Workers).Select(worker => Task.Run(async () =>
        {
            var rng = settings.ForWorker(worker);
            while (Interlocked.Increment(ref next) < settings.Requests)
            {
                if (rng.Next(20) < 11) await rest.SendOneAsync(rng);
                else await grpc.SendOneAsync(rng);
            }
        })));
        output.WriteLine($"{ledger.Requests} requests in {clock.Elapsed.TotalSeconds:F0} s");
        output.WriteLine(ledger.Histogram());
        foreach (var unnamed in ledger.UnnamedErrors.Take(50)) output.WriteLine("UNNAMED " + unnamed);
        foreach (var fault in ledger.Faults.Take(100)) output.WriteLine("FAULT " + fault);
        foreach (var again in ledger.RestartedCalls.Take(20)) output.WriteLine("SENT AGAIN " + again);

        // Every acknowledged example was accepted exactly once: the tenants' sequences are 1..accepted, all acknowledged.
        var main = targets.Main;
        var acknowledged = ledger.Sequences(main.Id);
        output.WriteLine($"{main.Id}: {acknowledged.Count} acknowledged ({ledger.AcknowledgedVia(main.Id, RestFuzzer.Api)} over REST, " +
                         $"{ledger.AcknowledgedVia(main.Id, GrpcFuzzer.Api)} over gRPC)");
        clock.Restart();
        var learned = await server.WaitForAppliedAsync(main.Id, main.Key, acknowledged.Count);
        output.WriteLine($"{main.Id} learned the rest in {clock.Elapsed.TotalSeconds:F0} s: {learned}");
        Assert.Equal(acknowledged.Count, learned.GetProperty("examplesAccepted").GetInt64());
        Assert.Equal(Enumerable.Range(1, acknowledged.Count).Select(i => (long)i), acknowledged);
        Assert.Equal(acknowledged.Count, learned.GetProperty("examplesApplied").GetInt64() + learned.GetProperty("examplesRejected").GetInt64());
        Assert.Equal(0, learned.GetProperty("queueDepth").GetInt64());
        var (_, other) = await server.SendAsync(HttpMethod.Get, $"/v1/tenants/{targets.Other.Id}", targets.Other.Key);
        var otherAcknowledged = ledger.Sequences(targets.Other.Id);
        Assert.Equal(otherAcknowledged.Count, other.GetProperty("examplesAccepted").GetInt64());
        Assert.Equal(Enumerable.Range(1, otherAcknowledged.Count).Select(i => (long)i), otherAcknowledged);

        Assert.True(ledger.Faults.Count == 0, $"{ledger.Faults.Count} server faults; the first: {ledger.Faults.FirstOrDefault()}");
        // A torn-down connection now and then (one in 3,000 seen); a server that drops connections often still fails.
        Assert.True(ledger.RestartedCalls.Count <= ledger.Requests / 100,
            $"{ledger.RestartedCalls.Count} calls found their connection closed; the first: {ledger.RestartedCalls.FirstOrDefault()}");
        Assert.True(ledger.UnnamedErrors.Count == 0, $"{ledger.UnnamedErrors.Count} client mistakes answered without naming them; the first: {ledger.UnnamedErrors.FirstOrDefault()}");
        Assert.True(ledger.AcknowledgedVia(main.Id, RestFuzzer.Api) > 0 && ledger.AcknowledgedVia(main.Id, GrpcFuzzer.Api) > 0,
            "valid examples must be accepted over both APIs while fuzzing");
        Assert.True(targets.DoomedDeleted, $"{targets.Doomed.Id} was never deleted: the delete path did not run under fire");
        foreach (var route in routes) Assert.True(ledger.Count(RestFuzzer.Api, route.Key) > 0, $"{route.Key} was never fuzzed");
        foreach (var method in service.Methods) Assert.True(ledger.Count(GrpcFuzzer.Api, method.Name) > 0, $"{method.Name} was never fuzzed");

        // The server still serves: ready, and the main tenant predicts.
        var (ready, _) = await server.SendAsync(HttpMethod.Get, "/readyz", null);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        var (predict, _) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/{main.Id}/predict", main.Key, new { text = "the disk is full" });
        Assert.Equal(HttpStatusCode.OK, predict.StatusCode);
    }

    static async Task<FuzzTargets> TargetsAsync(LoKOTestServer server)
    {
        var tenants = new List<FuzzTenant>();
        foreach (var id in new[] { "fuzz-main", "fuzz-other", "fuzz-doomed" })
            tenants.Add(new FuzzTenant(id, await server.CreateTenantAsync(id, Labels, seed: 1)));
        var peft = await server.Http.SendAsync(server.Request(HttpMethod.Get, "/v1/tenants/fuzz-main/adapter?format=peft", tenants[0].Key));
        Assert.Equal(HttpStatusCode.OK, peft.StatusCode);
        return new FuzzTargets(tenants[0], tenants[1], tenants[2], LoKOTestServer.AdminKey, Labels, await peft.Content.ReadAsByteArrayAsync());
    }
}
