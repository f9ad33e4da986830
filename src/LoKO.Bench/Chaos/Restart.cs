namespace LoKO.Bench.Chaos;

/// <summary>
/// One restart after a kill: process start to /readyz (<see cref="ReadySeconds"/>), to every tenant loaded and
/// answering (<see cref="ActiveSeconds"/>), and the log entries the tenants then had queued for replay.
/// </summary>
public sealed record Restart(double ReadySeconds, double ActiveSeconds, long Replayed);
