namespace LoKO.Bench.Chaos;

/// <summary>
/// One kill as reported: what it aimed at and hit, the restart after it, and what the clients then sent again
/// (<see cref="Resent"/>) and got back DUPLICATE (<see cref="Duplicates"/>: made durable before the kill, its
/// acknowledgement lost).
/// </summary>
public sealed record KillRecord(int Index, string Planned, string Moment, string Trigger, double AtSeconds, int Acked,
                                int AppendsInFlight, bool RollbackInFlight, bool CheckpointRequestInFlight,
                                double ReadySeconds, double ActiveSeconds, long Replayed, int Resent, int Duplicates);
