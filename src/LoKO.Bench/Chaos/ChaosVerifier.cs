using System.Globalization;
using LoKO.Contracts.V1;

namespace LoKO.Bench.Chaos;

/// <summary>
/// The end checks, per tenant, on both runs: every example acknowledged under its own sequence, in order, one each
/// (nothing appended twice, nothing lost); the log holds exactly those (examplesAccepted); everything acknowledged and
/// not rolled back was learned exactly once (applied + rejected, last applied sequence, nothing queued); no DUPLICATE
/// answered an example never sent before; no error from a live server. Then against the uninterrupted run: the same
/// counters and online accuracy, and θ within the tolerance.
/// </summary>
static class ChaosVerifier
{
    const int MaxListed = 5;

    public static ChaosReport Verify(ChaosSettings settings, RunOutcome reference, RunOutcome chaos)
    {
        var checks = chaos.Tenants.Zip(reference.Tenants, (c, r) => Check(settings, c, r)).ToList();
        var kills = chaos.Kills;
        var summary = new ChaosSummary(
            kills.Count,
            kills.GroupBy(k => k.Moment).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count()),
            kills.Count == 0 ? 0 : kills.Average(k => k.ReadySeconds), kills.Count == 0 ? 0 : kills.Max(k => k.ReadySeconds),
            kills.Count == 0 ? 0 : kills.Average(k => k.ActiveSeconds), kills.Count == 0 ? 0 : kills.Max(k => k.ActiveSeconds),
            kills.Sum(k => k.Resent), kills.Sum(k => k.Duplicates), kills.Sum(k => k.Replayed),
            checks.Max(c => c.ThetaMaxAbsDiff), chaos.WallSeconds, reference.WallSeconds);
        bool passed = checks.All(c => c.Passed) && kills.Count == settings.Kills;
        return new ChaosReport(settings.Kills, settings.Tenants, settings.Examples, settings.Seed, settings.CheckpointEverySteps,
            settings.RetainCheckpoints, settings.MaxQueuedExamples, settings.Tolerance, passed, summary, checks, kills);
    }

    static TenantCheck Check(ChaosSettings settings, TenantOutcome chaos, TenantOutcome reference)
    {
        var problems = new List<string>();
        Expect(chaos, "", problems);
        Expect(reference, "uninterrupted run: ", problems);
        Tenant c = chaos.Final, r = reference.Final;
        if (c.ExamplesApplied != r.ExamplesApplied || c.ExamplesRejected != r.ExamplesRejected)
            problems.Add(F($"applied/rejected {c.ExamplesApplied}/{c.ExamplesRejected}, the uninterrupted run {r.ExamplesApplied}/{r.ExamplesRejected}"));
        if (!(c.OnlineAccuracy == r.OnlineAccuracy || (double.IsNaN(c.OnlineAccuracy) && double.IsNaN(r.OnlineAccuracy))))
            problems.Add(F($"online accuracy {c.OnlineAccuracy:R}, the uninterrupted run {r.OnlineAccuracy:R}"));
        double diff = double.PositiveInfinity;
        if (chaos.Theta.Length != reference.Theta.Length)
            problems.Add(F($"θ has {chaos.Theta.Length} values, the uninterrupted run's {reference.Theta.Length}"));
        else
        {
            diff = chaos.Theta.Zip(reference.Theta).Select(p => (double)Math.Abs(p.First - p.Second)).DefaultIfEmpty(0).Max();
            if (!(diff <= settings.Tolerance)) problems.Add(F($"θ differs from the uninterrupted run's by {diff:E2} (tolerance {settings.Tolerance:E0})"));
        }
        return new TenantCheck(chaos.Spec.Id, chaos.Spec.Optimizer, chaos.Spec.Count, chaos.Spec.RolledBack,
            c.ExamplesAccepted, c.ExamplesApplied, c.ExamplesRejected, c.LastAppliedSequence, c.OnlineAccuracy,
            r.ExamplesApplied, r.ExamplesRejected, r.OnlineAccuracy,
            chaos.Resent, chaos.Duplicates, chaos.Interruptions, chaos.QueueRetries, chaos.Theta.Length, diff,
            chaos.RollbackVersions, reference.RollbackVersions, problems);
    }

    /// <summary>What one run's tenant must show on its own.</summary>
    static void Expect(TenantOutcome o, string run, List<string> problems)
    {
        int n = o.Spec.Count;
        var misplaced = o.Sequences.Select((s, i) => (s, i)).Where(p => p.s != p.i + 1).ToList();
        if (misplaced.Count > 0)
            problems.Add(run + $"{misplaced.Count} examples acknowledged under another sequence than their place in the stream, e.g. " +
                         string.Join(", ", misplaced.Take(MaxListed).Select(p => F($"'{o.Spec.ExampleId(p.i)}' under {p.s}"))));
        var t = o.Final;
        if (t.ExamplesAccepted != n) problems.Add(run + F($"examplesAccepted {t.ExamplesAccepted}, but {n} distinct examples were acknowledged"));
        long learned = t.ExamplesApplied + t.ExamplesRejected, expected = n - o.Spec.RolledBack;
        if (learned != expected)
            problems.Add(run + F($"{learned} examples learned (applied {t.ExamplesApplied} + rejected {t.ExamplesRejected}), expected {expected}: {n} acknowledged, {o.Spec.RolledBack} rolled back"));
        if (t.LastAppliedSequence != n) problems.Add(run + F($"last applied sequence {t.LastAppliedSequence}, expected {n}"));
        if (t.QueueDepth != 0) problems.Add(run + F($"{t.QueueDepth} examples still queued"));
        if (o.FirstSendDuplicates > 0) problems.Add(run + F($"{o.FirstSendDuplicates} examples answered DUPLICATE the first time they were sent"));
        if (o.Errors.Count > 0) problems.Add(run + $"{o.Errors.Count} errors from a live server, e.g. {string.Join(" | ", o.Errors.Take(MaxListed))}");
    }

    static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
