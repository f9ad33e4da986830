using LoKO.Server.Hosting;

namespace LoKO.Server.Compute;

/// <summary>
/// Settings of the "LoKO:BatchTenants" section: learning steps of several tenants of one base model run as one
/// batched step (<see cref="Engine.Batching.TenantBatch"/>: one shared forward and reverse pass). Off by default
/// (<see cref="MaxTenants"/> 0 or 1): each step runs alone, as it always has.
/// </summary>
public sealed class BatchTenantsOptions
{
    public const string Section = "LoKO:BatchTenants";

    /// <summary>Most tenants' steps in one batch; 0 or 1 turns batching off.</summary>
    public int MaxTenants { get; set; }
    /// <summary>
    /// How long a ready step waits for other tenants' steps before its batch runs, milliseconds; a batch that reaches
    /// <see cref="MaxTenants"/> runs at once, and steps that become ready while a compute thread is busy join the next batch.
    /// </summary>
    public double MaxWaitMs { get; set; } = 2;

    public bool Enabled => MaxTenants > 1;

    /// <summary>Throws <see cref="InvalidSettingException"/> naming the setting that is out of range.</summary>
    public void Validate()
    {
        if (MaxTenants is < 0 or > 4096)
            throw new InvalidSettingException($"{Section}:MaxTenants", $"{MaxTenants} is out of range: 0 or 1 (off) to 4096");
        if (!double.IsFinite(MaxWaitMs) || MaxWaitMs is < 0 or > 10_000)
            throw new InvalidSettingException($"{Section}:MaxWaitMs", $"{MaxWaitMs} is out of range: 0 to 10000 ms");
    }
}
