namespace LoKO.Bench.Load;

/// <summary>What /readyz says about the server: the device it serves on and its batching setting (null when it does not say, or batching is off).</summary>
sealed record ServerReadiness(string? Device, ServerBatching? BatchTenants);
