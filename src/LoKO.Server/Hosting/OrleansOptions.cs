namespace LoKO.Server.Hosting;

/// <summary>
/// Settings of the "LoKO:Orleans" section: the silo that hosts the tenant grains in the server process.
/// The embedded default is localhost clustering (one silo); the ports are settings so that several servers can
/// run on one machine.
/// </summary>
public sealed class OrleansOptions
{
    /// <summary>Silo-to-silo port.</summary>
    public int SiloPort { get; set; } = 11111;
    /// <summary>Port Orleans clients outside the process connect to.</summary>
    public int GatewayPort { get; set; } = 30000;
    /// <summary>Silos with the same cluster id form one cluster.</summary>
    public string ClusterId { get; set; } = "loko";
    /// <summary>Identifies the service across deployments (kept stable across cluster ids).</summary>
    public string ServiceId { get; set; } = "loko";
}
