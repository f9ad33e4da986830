namespace LoKO.Server.Hosting;

/// <summary>
/// Settings of the "LoKO:Guard" section: when the service freezes a tenant's learning (see
/// <see cref="Tenants.TenantFreeze"/>). Two rules, each judged on the steps since the tenant was last loaded,
/// resumed or rolled back: the prequential accuracy of a window of <see cref="Window"/> examples falls more than
/// <see cref="MaxAccuracyDrop"/> below the tenant's best window (once <see cref="MinWindows"/> windows have closed),
/// or the LoKO filter's own divergence guard fires <see cref="MaxGuardEvents"/> times within <see cref="GuardEventSteps"/> steps.
/// </summary>
public sealed class GuardRailOptions
{
    /// <summary>Off: no tenant is ever frozen.</summary>
    public bool Enabled { get; set; } = true;
    /// <summary>Examples per accuracy window (consecutive, non-overlapping).</summary>
    public int Window { get; set; } = 100;
    /// <summary>The accuracy rule judges a window from the MinWindows-th on (the ones before only set the best).</summary>
    public int MinWindows { get; set; } = 3;
    /// <summary>A window whose accuracy is below the best window's minus this freezes the tenant (1 turns the rule off).</summary>
    public double MaxAccuracyDrop { get; set; } = 0.2;
    /// <summary>The filter's guard firing this many times within <see cref="GuardEventSteps"/> steps freezes the tenant (0 turns the rule off).</summary>
    public int MaxGuardEvents { get; set; } = 3;
    public int GuardEventSteps { get; set; } = 500;
}

/// <summary>
/// Settings of the "LoKO:Quotas" section: the server-wide defaults of the per-tenant quotas, which a tenant's own
/// (set at creation) override. 0 = unlimited, the default.
/// </summary>
public sealed class QuotaOptions
{
    /// <summary>Examples (appends and feedback) per tenant per second; bursts up to one second's worth.</summary>
    public double ExamplesPerSecond { get; set; }
    /// <summary>Predictions per tenant per second; bursts up to one second's worth.</summary>
    public double PredictionsPerSecond { get; set; }
    /// <summary>Log entries a tenant keeps (accepted, not yet compacted away) beyond which appends are refused.</summary>
    public long MaxLogEntries { get; set; }
}
