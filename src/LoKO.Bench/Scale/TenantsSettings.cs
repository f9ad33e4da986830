namespace LoKO.Bench.Scale;

/// <summary>What one `tenants` run does.</summary>
public sealed record TenantsSettings
{
    /// <summary>Tenants created (besides one warm-up tenant).</summary>
    public required int Count { get; init; }
    /// <summary>Examples each tenant learns.</summary>
    public int Examples { get; init; } = 2;
    /// <summary>The server's LoKO:ResidentTenantBudgetMB.</summary>
    public double BudgetMB { get; init; } = 512;
    /// <summary>Evicted tenants loaded again, for each of the two ways the cold load is timed.</summary>
    public int ColdSamples { get; init; } = 100;
    /// <summary>Tenants created at once (each: CreateTenant, its examples, a prediction).</summary>
    public int Concurrency { get; init; } = 4;
    /// <summary>The server's LibTorch threads.</summary>
    public int Threads { get; init; } = 1;
    public double SampleSeconds { get; init; } = 1;
    public int Seed { get; init; } = 1;
    public required string ServerPath { get; init; }
    /// <summary>Holds the server's data directory.</summary>
    public required string WorkDirectory { get; init; }

    public void Validate()
    {
        if (Count < 2) throw new ArgumentException("--count must be at least 2");
        if (Examples < 1) throw new ArgumentException("--examples must be positive");
        if (BudgetMB <= 0) throw new ArgumentException("--budget-mb must be positive");
        if (ColdSamples < 1) throw new ArgumentException("--cold-samples must be positive");
        if (Concurrency < 1) throw new ArgumentException("--concurrency must be positive");
    }
}
