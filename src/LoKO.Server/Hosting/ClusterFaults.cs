using Orleans.Runtime;

namespace LoKO.Server.Hosting;

/// <summary>
/// A grain call that failed because the silo holding the tenant went away (killed, partitioned, shutting down): the
/// call was not acknowledged, the tenant is activated on a surviving silo once the dead one is declared dead, and the
/// same request succeeds then, so the APIs answer 503 / UNAVAILABLE with Retry-After instead of 500.
/// </summary>
public static class ClusterFaults
{
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(2);

    public const string Message = "the node that holds the tenant does not answer; the tenant moves to another node; retry";

    public static bool IsClusterFault(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
            if (x is SiloUnavailableException or OrleansMessageRejectionException or Orleans.Runtime.Messaging.ConnectionFailedException
                or ClientNotAvailableException) return true;
        return false;
    }
}
