namespace LoKO.Bench.Chaos;

/// <summary>One run (with kills, or the uninterrupted reference) on its own data directory.</summary>
sealed record RunOutcome(IReadOnlyList<TenantOutcome> Tenants, IReadOnlyList<KillRecord> Kills, double FirstReadySeconds, double WallSeconds);
