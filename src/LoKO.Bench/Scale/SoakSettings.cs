namespace LoKO.Bench.Scale;

/// <summary>What one `soak` run does.</summary>
public sealed record SoakSettings
{
    public required double Minutes { get; init; }
    public int Tenants { get; init; } = 8;
    /// <summary>Seconds between samples.</summary>
    public double IntervalSeconds { get; init; } = 10;
    /// <summary>The verdict: native memory may grow at most this fast over the second half, MiB per minute.</summary>
    public double MaxSlopeMBPerMinute { get; init; } = 1;
    /// <summary>The server's LoKO:MaxResidentTenants (0: all stay resident); fewer than <see cref="Tenants"/> makes them evict and reload each other.</summary>
    public int MaxResident { get; init; }
    public int Threads { get; init; } = 1;
    public required string ServerPath { get; init; }
    public required string WorkDirectory { get; init; }

    public void Validate()
    {
        if (Minutes <= 0) throw new ArgumentException("--minutes must be positive");
        if (Tenants < 1) throw new ArgumentException("--tenants must be positive");
        if (IntervalSeconds <= 0 || IntervalSeconds * 4 > Minutes * 60) throw new ArgumentException("--interval must be positive and leave at least 4 samples in the run");
        if (MaxSlopeMBPerMinute <= 0) throw new ArgumentException("--max-slope must be positive");
    }
}
