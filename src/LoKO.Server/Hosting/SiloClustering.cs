using System.Net;
using LoKO.Server.Storage;
using Orleans.Configuration;

namespace LoKO.Server.Hosting;

/// <summary>
/// How the server's silo joins its cluster (<see cref="OrleansOptions.Clustering"/>): alone on localhost (the embedded
/// default), or with every other server on the metadata store's PostgreSQL through Orleans' ADO.NET membership, whose
/// schema the PostgreSQL migrations create (Storage/Sql/orleans-membership.sql).
/// </summary>
public static class SiloClustering
{
    public const string Key = "LoKO:Orleans:Clustering";

    /// <summary>Throws <see cref="InvalidSettingException"/> for a combination of settings a cluster cannot run with.</summary>
    public static void Validate(LoKOOptions options)
    {
        if (options.Orleans.Clustering != OrleansClustering.Postgres) return;
        if (options.Database.Provider != DatabaseProvider.Postgres || string.IsNullOrWhiteSpace(options.Database.ConnectionString))
            throw new InvalidSettingException(Key, "postgres clustering needs the metadata store on PostgreSQL (LoKO:Database:Provider=postgres and its ConnectionString)");
        if (options.CheckpointStoreInUse != CheckpointStoreKind.Database)
            throw new InvalidSettingException("LoKO:CheckpointStore", "postgres clustering needs the checkpoints in the database: files in one node's data directory are out of the other nodes' reach");
        if (string.IsNullOrWhiteSpace(options.AdminKey))
            throw new InvalidSettingException("LoKO:AdminKey", "postgres clustering needs the admin key set, the same on every node (a generated one would differ between nodes)");
        if (options.Orleans.AdvertisedAddress is { } address && !IPAddress.TryParse(address, out _))
            throw new InvalidSettingException("LoKO:Orleans:AdvertisedAddress", $"'{address}' is not an IP address");
        var detection = options.Orleans.FailureDetection;
        if (detection.ProbeTimeoutSeconds <= 0 || detection.MissedProbesLimit < 1 || detection.VotesForDeath < 1 || detection.ProbedSilos < 1 ||
            detection.TableRefreshSeconds <= 0)
            throw new InvalidSettingException("LoKO:Orleans:FailureDetection", "every setting must be positive");
    }

    public static ISiloBuilder UseLoKOClustering(this ISiloBuilder silo, LoKOOptions options)
    {
        var orleans = options.Orleans;
        if (orleans.Clustering == OrleansClustering.Localhost)
            return silo.UseLocalhostClustering(orleans.SiloPort, orleans.GatewayPort, serviceId: orleans.ServiceId, clusterId: orleans.ClusterId);

        silo.Configure<ClusterOptions>(c =>
        {
            c.ClusterId = orleans.ClusterId;
            c.ServiceId = orleans.ServiceId;
        });
        if (orleans.AdvertisedAddress is { } address)
            silo.ConfigureEndpoints(IPAddress.Parse(address), orleans.SiloPort, orleans.GatewayPort, listenOnAnyHostAddress: true);
        else
            silo.ConfigureEndpoints(orleans.SiloPort, orleans.GatewayPort, listenOnAnyHostAddress: true);
        silo.UseAdoNetClustering(o =>
        {
            o.Invariant = "Npgsql";
            o.ConnectionString = options.Database.ConnectionString;
        });
        var detection = orleans.FailureDetection;
        silo.Configure<ClusterMembershipOptions>(m =>
        {
            m.ProbeTimeout = TimeSpan.FromSeconds(detection.ProbeTimeoutSeconds);
            m.MaxProbeTimeout = TimeSpan.FromSeconds(detection.ProbeTimeoutSeconds);
            m.NumMissedProbesLimit = detection.MissedProbesLimit;
            m.NumVotesForDeathDeclaration = detection.VotesForDeath;
            m.NumProbedSilos = detection.ProbedSilos;
            m.TableRefreshTimeout = TimeSpan.FromSeconds(detection.TableRefreshSeconds);
        });
        return silo;
    }
}
