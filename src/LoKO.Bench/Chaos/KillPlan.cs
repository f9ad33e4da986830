namespace LoKO.Bench.Chaos;

/// <summary>
/// One planned kill: it is armed once the clients hold <see cref="AfterAcks"/> acknowledgements (all tenants together),
/// then waits for its <see cref="Kind"/>'s moment, plus <see cref="Delay"/>. When that moment does not come (no
/// rollback left, no checkpoint within the limit) it becomes a step kill after <see cref="FallbackDelay"/>.
/// </summary>
public sealed record KillPlan(int Index, KillKind Kind, int AfterAcks, TimeSpan Delay, TimeSpan FallbackDelay);
