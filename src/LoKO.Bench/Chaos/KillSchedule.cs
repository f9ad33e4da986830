namespace LoKO.Bench.Chaos;

/// <summary>
/// The kills of a run, from its seed alone: every kind equally often (each block of five holds one of each, in a
/// shuffled order), armed at acknowledgement counts spread uniformly over the run, and in the order they are armed.
/// A rollback kill is armed just before one of the tenants' rollback points; there are no more of them than rollback
/// requests in the run (the rest are step kills), since each waits for one in flight.
/// </summary>
public static class KillSchedule
{
    // Armed before the run's last acknowledgements, so that kills land while there is still work in flight.
    const double LastArmedFraction = 0.9;

    public static IReadOnlyList<KillPlan> Make(int kills, IReadOnlyList<ChaosTenant> tenants, int seed)
    {
        var random = new Random(seed);
        int total = tenants.Sum(t => t.Count);
        var rollbackPoints = tenants[0].Cycles.Select(c => Math.Max(0, tenants.Count * (c.RollbackAt - 1))).ToList();
        int rollbacksLeft = tenants.Sum(t => t.Cycles.Count);
        var kinds = Enum.GetValues<KillKind>();
        var plans = new List<(KillKind Kind, int AfterAcks, TimeSpan Delay, TimeSpan Fallback)>();
        while (plans.Count < kills)
        {
            foreach (var drawn in kinds.OrderBy(_ => random.Next()).Take(kills - plans.Count))
            {
                var kind = drawn == KillKind.Rollback && rollbacksLeft-- <= 0 ? KillKind.Step : drawn;
                int afterAcks = kind == KillKind.Rollback
                    ? rollbackPoints[random.Next(rollbackPoints.Count)]
                    : random.Next((int)(LastArmedFraction * total));
                plans.Add((kind, afterAcks, Delay(kind, random), Delay(KillKind.Step, random)));
            }
        }
        return [.. plans.OrderBy(p => p.AfterAcks).Select((p, i) => new KillPlan(i + 1, p.Kind, p.AfterAcks, p.Delay, p.Fallback))];
    }

    static TimeSpan Delay(KillKind kind, Random random) => TimeSpan.FromMilliseconds(kind switch
    {
        KillKind.Append => random.Next(5),
        KillKind.Step => random.Next(1500),
        KillKind.Rollback => random.Next(40),
        _ => 0,
    });
}
