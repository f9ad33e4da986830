using System.Diagnostics;
using System.Globalization;
using LoKO.Contracts.V1;
using LoKO.Server.Storage;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Xunit.Abstractions;

namespace LoKO.Server.Tests.Cluster;

/// <summary>
/// Three servers as one Orleans cluster on one PostgreSQL (membership, metadata and checkpoints), eight tenants
/// streaming over gRPC through different servers; the silo that holds most of them is SIGKILLed mid-stream. Its
/// tenants move to the survivors, the clients reconnect and resend what was not acknowledged, and every acknowledged
/// example is learned exactly once: each tenant's θ equals an uninterrupted single-server run's.
/// </summary>
public sealed class FailoverTests(PostgresDatabase database, ITestOutputHelper output) : IClassFixture<PostgresDatabase>, IAsyncLifetime
{
    const int Nodes = 3, Tenants = 8, PerTenant = 40, BeforeKill = PerTenant / 2;
    static readonly string[] Labels = ["computers", "food"];

    readonly List<ClusterNode> _nodes = [];
    readonly List<string> _directories = [];

    static string TenantId(int t) => $"moving-{t}";

    static (string Text, string Label)[] ExamplesOf(int t) => TopicExamples.Make(Tenants * PerTenant)[(t * PerTenant)..((t + 1) * PerTenant)];

    [PostgresFact]
    public async Task AfterTheSiloHoldingMostTenantsIsKilledEveryAcknowledgedExampleIsLearnedOnceAndThetaMatchesASingleServer()
    {
        var cluster = "failover-" + Guid.NewGuid().ToString("N")[..8];
        string[] settings =
        [
            .. database.ServerArgs, "--LoKO:Orleans:Clustering=postgres", "--LoKO:Orleans:AdvertisedAddress=127.0.0.1",
            $"--LoKO:Orleans:ClusterId={cluster}",
        ];
        // Started together, as an orchestrator starts replicas: their migrations of the one database must not race.
        _nodes.AddRange(await Task.WhenAll(Enumerable.Range(0, Nodes).Select(n => ClusterNode.StartAsync($"node{n}", NewDirectory(), settings))));
        await WaitForMembersAsync(cluster, Nodes);

        for (int t = 0; t < Tenants; t++)
            await _nodes[t % Nodes].Grpc.CreateTenantAsync(new CreateTenantRequest
            {
                TenantId = TenantId(t), Preset = "minilm-l6", Labels = { Labels }, Lora = new LoraSettings { Rank = 2 }, Seed = 100 + t,
            }, ClusterNode.Admin);

        var clock = Stopwatch.StartNew();
        var streams = Enumerable.Range(0, Tenants).Select(t => new TenantStream(TenantId(t), ExamplesOf(t), _nodes, t % Nodes) { Clock = clock }).ToList();
        await Task.WhenAll(streams.Select(s => s.StreamToAsync(BeforeKill, CancellationToken.None)));

        // The victim: the node whose silo holds most tenants (each tenant's latest activation, by epoch).
        var holders = streams.ToDictionary(s => s.TenantId, s => _nodes.MaxBy(n => n.Activations.GetValueOrDefault(s.TenantId))!);
        var victim = _nodes.MaxBy(n => holders.Values.Count(h => h == n))!;
        var moved = holders.Where(h => h.Value == victim).Select(h => h.Key).ToHashSet();
        output.WriteLine($"placement: {string.Join(", ", _nodes.Select(n => $"{n.Name}={holders.Values.Count(h => h == n)}"))}; killing {victim.Name}");
        Assert.NotEmpty(moved);

        // Mid-stream: the rest of every stream starts, and the victim dies once a few of them are acknowledged.
        int ackedBefore = streams.Sum(s => s.Acked);
        var rest = streams.Select(s => s.StreamToAsync(PerTenant, CancellationToken.None)).ToList();
        while (streams.Sum(s => s.Acked) < ackedBefore + Tenants) await Task.Delay(5);
        var killedAt = clock.Elapsed;
        victim.Kill();
        int ackedAtKill = streams.Where(s => moved.Contains(s.TenantId)).Sum(s => s.Acked);
        await Task.WhenAll(rest);

        var survivor = _nodes.First(n => !n.HasExited);
        var thetas = new Dictionary<string, float[]>();
        foreach (var s in streams)
        {
            var tenant = await survivor.WaitAppliedAsync(s.TenantId, PerTenant);
            Assert.Equal(PerTenant, tenant.ExamplesAccepted);
            Assert.Equal(PerTenant, tenant.ExamplesApplied);
            Assert.Equal(PerTenant, tenant.LastAppliedSequence);
            Assert.Equal(Enumerable.Range(1, PerTenant).Select(i => (long)i), s.Sequences);
            thetas[s.TenantId] = await survivor.ThetaAsync(s.TenantId);
        }
        await AssertLoggedOnceAsync();

        // Per moved tenant: its first acknowledgement after the kill (the first one served by its new silo).
        var backAfter = streams.Where(s => moved.Contains(s.TenantId))
            .Select(s => s.AckTimes.Where(t => t > killedAt).DefaultIfEmpty(TimeSpan.MaxValue).Min() - killedAt).ToList();
        int interrupted = streams.Sum(s => s.Interruptions), resent = streams.Sum(s => s.Resent), duplicates = streams.Sum(s => s.Duplicates);
        output.WriteLine($"moved tenants: {moved.Count}, acknowledged of theirs at the kill: {ackedAtKill} of {moved.Count * PerTenant}; " +
                         $"first acknowledgement of a moved tenant after SIGKILL: first {S(backAfter.Min())} s, last {S(backAfter.Max())} s; " +
                         $"calls cut off {interrupted}, examples resent {resent}, answered duplicate {duplicates}");
        Assert.True(interrupted > 0, "no client call was cut off by the kill");
        Assert.True(ackedAtKill < moved.Count * PerTenant, "the moved tenants' streams were all acknowledged before the kill");

        // The same tenants, the same examples, one server, no kill.
        var reference = await ClusterNode.StartAsync("reference", NewDirectory(), []);
        _nodes.Add(reference);
        for (int t = 0; t < Tenants; t++)
        {
            await reference.Grpc.CreateTenantAsync(new CreateTenantRequest
            {
                TenantId = TenantId(t), Preset = "minilm-l6", Labels = { Labels }, Lora = new LoraSettings { Rank = 2 }, Seed = 100 + t,
            }, ClusterNode.Admin);
        }
        var uninterrupted = Enumerable.Range(0, Tenants).Select(t => new TenantStream(TenantId(t), ExamplesOf(t), [reference], 0)).ToList();
        await Task.WhenAll(uninterrupted.Select(s => s.StreamToAsync(PerTenant, CancellationToken.None)));
        foreach (var s in uninterrupted)
        {
            await reference.WaitAppliedAsync(s.TenantId, PerTenant);
            var expected = await reference.ThetaAsync(s.TenantId);
            var actual = thetas[s.TenantId];
            Assert.Equal(expected.Length, actual.Length);
            double worst = expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second));
            output.WriteLine($"{s.TenantId}: max |Δθ| = {worst:E2}{(moved.Contains(s.TenantId) ? " (moved)" : "")}");
            Assert.True(worst <= 1e-6, $"{s.TenantId}: θ differs from the uninterrupted run by {worst:E2}");
        }
    }

    static string S(TimeSpan t) => t.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture);

    /// <summary>Straight from the store: each exampleId once, under the sequence of its place in the stream, and one log entry per sequence.</summary>
    async Task AssertLoggedOnceAsync()
    {
        await using var db = new PostgresLoKODbContext(new DbContextOptionsBuilder<PostgresLoKODbContext>().UseNpgsql(database.ConnectionString).Options);
        for (int t = 0; t < Tenants; t++)
        {
            var id = TenantId(t);
            var ids = await db.ExampleIds.AsNoTracking().Where(x => x.TenantId == id).ToDictionaryAsync(x => x.ExampleId, x => x.Sequence);
            Assert.Equal(PerTenant, ids.Count);
            for (int i = 0; i < PerTenant; i++) Assert.Equal(i + 1, ids[TenantStream.ExampleId(i)]);
            var sequences = await db.Examples.AsNoTracking().Where(x => x.TenantId == id).Select(x => x.Sequence).ToListAsync();
            Assert.Equal(sequences.Distinct().Count(), sequences.Count);
        }
    }

    async Task WaitForMembersAsync(string cluster, int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (true)
        {
            await using var connection = new NpgsqlConnection(database.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT count(*) FROM orleans_membership WHERE deployment_id = @c AND status = 3", connection);
            command.Parameters.AddWithValue("c", cluster);
            if (Convert.ToInt32(await command.ExecuteScalarAsync()) == count) return;
            if (DateTime.UtcNow > deadline) Assert.Fail($"{count} silos did not become active members of {cluster} in time");
            await Task.Delay(200);
        }
    }

    string NewDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "loko-failover-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        _directories.Add(path);
        return path;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes) await node.DisposeAsync();
        foreach (var directory in _directories)
        {
            try { Directory.Delete(directory, recursive: true); } catch (IOException) { }
        }
    }
}
