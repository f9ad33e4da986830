namespace LoKO.Bench.Chaos;

/// <summary>
/// One planned kill: it is armed once the clients hold <see cref="AfterAcks"/> acknowledgements (all tenants together),
/// then waits for its <see cref="Kind"/>'s moment, plus <see cref="Delay"/>.
/// </summary>
public sealed record KillPlan(int Index, KillKind Kind, int AfterAcks, TimeSpan Delay);
