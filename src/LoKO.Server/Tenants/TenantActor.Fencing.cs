using LoKO.Server.Storage;

namespace LoKO.Server.Tenants;

/// <summary>
/// The actor's epoch (<see cref="TenantEpochs"/>): taken at activation, checked by every durable write. A write that
/// finds a newer activation in charge fails unacknowledged, and this activation stops writing and deactivates.
/// </summary>
public sealed partial class TenantActor
{
    long _epoch;
    Action _onFenced = () => { };
    int _fenced;

    bool IsFenced => Volatile.Read(ref _fenced) != 0;

    /// <summary>The first fenced write deactivates the activation; the caller retries against whichever one serves the tenant now.</summary>
    StorageUnavailableException Fenced(TenantFencedException e)
    {
        if (Interlocked.Exchange(ref _fenced, 1) == 0)
        {
            _s.Metrics.StorageFailed(_gauges, "fenced");
            _s.Logger.LogWarning("Tenant {Tenant}: {Reason}; this activation stops writing and deactivates", TenantId, e.Message);
            _onFenced();
        }
        return MovedOn();
    }

    StorageUnavailableException MovedOn() =>
        new($"tenant '{TenantId}' is now served by another activation; nothing was written; retry", TimeSpan.FromSeconds(1));
}
