namespace LoKO.Server.Hosting;

/// <summary>How the silos of a deployment find each other.</summary>
public enum OrleansClustering
{
    /// <summary>One silo per server, alone in its cluster: the embedded default, no other service.</summary>
    Localhost,
    /// <summary>Silos that share the metadata store's PostgreSQL form one cluster (Orleans ADO.NET membership).</summary>
    Postgres,
}

/// <summary>
/// Settings of the "LoKO:Orleans" section: the silo that hosts the tenant grains in the server process.
/// The embedded default is localhost clustering (one silo); the ports are settings so that several servers can
/// run on one machine.
/// </summary>
public sealed class OrleansOptions
{
    /// <summary>localhost (one silo) or postgres (every server on the metadata store's PostgreSQL joins one cluster).</summary>
    public OrleansClustering Clustering { get; set; } = OrleansClustering.Localhost;
    /// <summary>Silo-to-silo port.</summary>
    public int SiloPort { get; set; } = 11111;
    /// <summary>Port Orleans clients outside the process connect to.</summary>
    public int GatewayPort { get; set; } = 30000;
    /// <summary>
    /// postgres clustering: the IP address the other silos reach this one at (e.g. the pod IP). Unset: the first
    /// address the host name resolves to. The silo listens on every address either way.
    /// </summary>
    public string? AdvertisedAddress { get; set; }
    /// <summary>Silos with the same cluster id form one cluster.</summary>
    public string ClusterId { get; set; } = "loko";
    /// <summary>Identifies the service across deployments (kept stable across cluster ids).</summary>
    public string ServiceId { get; set; } = "loko";
    /// <summary>postgres clustering: how fast a silo that stopped answering is declared dead and its tenants move.</summary>
    public FailureDetectionOptions FailureDetection { get; set; } = new();
}

/// <summary>
/// Orleans' liveness protocol, tuned so that a dead silo is declared dead within about 10 s (Orleans' defaults take
/// about 15 s and more): each silo probes <see cref="ProbedSilos"/> others every <see cref="ProbeTimeoutSeconds"/>;
/// after <see cref="MissedProbesLimit"/> missed probes it votes the silo dead, and <see cref="VotesForDeath"/>
/// votes (fewer when fewer silos are alive) declare it so in the membership table, which every silo reads at least
/// every <see cref="TableRefreshSeconds"/> (and hears about at once by gossip). Worst case with the defaults:
/// 3 × 2 s of missed probes, plus the vote round trips through the table, ≈ 7–9 s.
/// </summary>
public sealed class FailureDetectionOptions
{
    public double ProbeTimeoutSeconds { get; set; } = 2;
    public int MissedProbesLimit { get; set; } = 3;
    public int VotesForDeath { get; set; } = 2;
    public int ProbedSilos { get; set; } = 3;
    public double TableRefreshSeconds { get; set; } = 5;
}
