namespace LoKO.Bench.Chaos;

/// <summary>
/// What was going on when a kill struck, as the clients and the killer saw it. <see cref="Moment"/> classifies it:
/// checkpoint (a checkpoint file had just appeared), compaction (the server had just reported a checkpoint committed),
/// rollback (a rollback request was in flight), append (the store written while examples were in flight), step
/// (learning the queued examples), idle (every client done).
/// </summary>
public sealed record KillMoment(KillPlan Plan, string Moment, string Trigger, double AtSeconds, int Acked, int AppendsInFlight,
                                bool RollbackInFlight, bool CheckpointRequestInFlight);
