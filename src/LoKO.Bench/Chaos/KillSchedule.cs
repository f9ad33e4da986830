namespace LoKO.Bench.Chaos;

/// <summary>
/// The kills of a run, from its seed alone: every kind equally often (each block of five holds one of each, in a
/// shuffled order), armed at acknowledgement counts spread uniformly over the run — a rollback kill just before one
/// of the tenants' rollback points — and in the order they are armed.
/// </summary>
public static class KillSchedule
{
    // Armed before the run's last acknowledgements, so that kills land while there is still work in flight.
    const double LastArmedFraction = 0.97;

    public static IReadOnlyList<KillPlan> Make(int kills, IReadOnlyList<ChaosTenant> tenants, int seed)
    {
        var random = new Random(seed);
        int total = tenants.Sum(t => t.Count);
        var rollbackPoints = tenants[0].Cycles.Select(c => Math.Max(0, tenants.Count * (c.RollbackAt - 1))).ToList();
        var kinds = Enum.GetValues<KillKind>();
        var plans = new List<(KillKind Kind, int AfterAcks, TimeSpan Delay)>();
        while (plans.Count < kills)
        {
            foreach (var kind in kinds.OrderBy(_ => random.Next()).Take(kills - plans.Count))
            {
                var kindOrFallback = kind == KillKind.Rollback && rollbackPoints.Count == 0 ? KillKind.Step : kind;
                int afterAcks = kindOrFallback == KillKind.Rollback
                    ? rollbackPoints[random.Next(rollbackPoints.Count)]
                    : random.Next((int)(LastArmedFraction * total));
                plans.Add((kindOrFallback, afterAcks, Delay(kindOrFallback, random)));
            }
        }
        return [.. plans.OrderBy(p => p.AfterAcks).Select((p, i) => new KillPlan(i + 1, p.Kind, p.AfterAcks, p.Delay))];
    }

    static TimeSpan Delay(KillKind kind, Random random) => TimeSpan.FromMilliseconds(kind switch
    {
        KillKind.Append => random.Next(5),
        KillKind.Step => random.Next(1500),
        KillKind.Rollback => random.Next(40),
        _ => 0,
    });
}
