namespace LoKO.Bench.Scale;

/// <summary>
/// Evicted tenants loaded again, timed two ways on distinct tenants. <see cref="Direct"/>: a Predict to an evicted
/// tenant, checkpoint → first prediction. Split: a GetTenant loads it (<see cref="Load"/>: the activation alone —
/// checkpoint read, verified and parsed, state built, no forward), then a Predict (<see cref="FirstForward"/>: the
/// first prediction of the just loaded tenant). <see cref="Warm"/>: the next Predict to the same, resident, tenant.
/// </summary>
public sealed record ColdLoads(Spread Direct, Spread Load, Spread FirstForward, Spread Warm, int Checked, int StateMismatches);
