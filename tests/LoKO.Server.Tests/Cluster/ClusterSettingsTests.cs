using LoKO.Server.Hosting;
using LoKO.Server.Tests.Tools;
using Xunit.Abstractions;

namespace LoKO.Server.Tests.Cluster;

/// <summary>Settings a cluster cannot run with stop the start with one line naming the setting (exit code 78), before any service is reached.</summary>
public sealed class ClusterSettingsTests(ITestOutputHelper output) : IDisposable
{
    const string Postgres = "--LoKO:Database:ConnectionString=Host=127.0.0.1;Port=1;Database=none";

    readonly string _directory = Path.Combine(Path.GetTempPath(), "loko-cluster-settings-" + Guid.NewGuid().ToString("N"));

    [Theory]
    [InlineData("LoKO:Orleans:Clustering", "needs the metadata store on PostgreSQL", new[] { "--LoKO:AdminKey=k" })]
    [InlineData("LoKO:CheckpointStore", "files in one node's data directory", new[] { "--LoKO:AdminKey=k", "--LoKO:Database:Provider=postgres", Postgres, "--LoKO:CheckpointStore=Files" })]
    [InlineData("LoKO:AdminKey", "the same on every node", new[] { "--LoKO:Database:Provider=postgres", Postgres })]
    [InlineData("LoKO:Orleans:AdvertisedAddress", "is not an IP address", new[] { "--LoKO:AdminKey=k", "--LoKO:Database:Provider=postgres", Postgres, "--LoKO:Orleans:AdvertisedAddress=pod-3" })]
    public async Task PostgresClusteringRefusesSettingsOnlyOneNodeCouldUse(string key, string reason, string[] settings)
    {
        var run = await ServerBinary.RunToExitAsync(_directory, ["--LoKO:Orleans:Clustering=postgres", .. settings]);
        output.WriteLine($"exit code {run.ExitCode}; stderr: {run.Stderr}");
        Assert.Equal(InvalidSettingException.ExitCode, run.ExitCode);
        var line = Assert.Single(run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith($"LoKO cannot start: {key}: ", line);
        Assert.Contains(reason, line);
    }

    public void Dispose()
    {
        try { Directory.Delete(_directory, recursive: true); } catch (DirectoryNotFoundException) { }
    }
}
