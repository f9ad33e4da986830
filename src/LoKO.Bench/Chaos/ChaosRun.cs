using System.Diagnostics;
using System.Globalization;
using System.Runtime.ExceptionServices;
using Grpc.Core;
using LoKO.Bench.Load;
using LoKO.Bench.Serving;

namespace LoKO.Bench.Chaos;

/// <summary>
/// The chaos run: the same tenants (fixed seeds), examples, order and rollbacks twice, each on its own data directory —
/// once uninterrupted (the reference), once with the server SIGKILLed on the <see cref="KillSchedule"/> and restarted
/// on the same data directory after each kill — then <see cref="ChaosVerifier"/> compares the two.
/// </summary>
public static class ChaosRun
{
    /// <param name="streams">Each tenant's examples, in the order it learns them.</param>
    public static async Task<ChaosReport> RunAsync(ChaosSettings settings, IReadOnlyList<string> labels, IReadOnlyList<IReadOnlyList<LabeledText>> streams,
                                                   Action<string> log, CancellationToken ct = default)
    {
        settings.Validate();
        var tenants = streams.Select((examples, i) => ChaosTenant.Make(i, settings.Seed, labels, examples, settings.CheckpointEverySteps)).ToList();
        var plans = KillSchedule.Make(settings.Kills, tenants, settings.Seed);
        log(F($"chaos: {tenants.Count} tenants ({string.Join(", ", tenants.Select(t => $"{t.Id} {t.Optimizer}"))}), {settings.Examples} examples each, ")
              + F($"rollbacks at {string.Join(", ", tenants[0].Cycles.Select(c => $"{c.CheckpointAt}→{c.RollbackAt}"))}; checkpoint every {settings.CheckpointEverySteps} ")
              + F($"steps, {settings.RetainCheckpoints} kept; {plans.Count} kills (seed {settings.Seed}); server {settings.ServerPath}"));

        log("chaos: the uninterrupted run");
        var reference = await RunOnceAsync(settings, tenants, Path.Combine(settings.WorkDirectory, "reference"), [], log, ct);
        log(F($"chaos: uninterrupted run in {reference.WallSeconds:F1} s; now the run with {plans.Count} kills"));
        var chaos = await RunOnceAsync(settings, tenants, Path.Combine(settings.WorkDirectory, "chaos"), plans, log, ct);
        log(F($"chaos: run with kills in {chaos.WallSeconds:F1} s"));
        return ChaosVerifier.Verify(settings, reference, chaos);
    }

    static async Task<RunOutcome> RunOnceAsync(ChaosSettings settings, IReadOnlyList<ChaosTenant> tenants, string dataDirectory,
                                               IReadOnlyList<KillPlan> plans, Action<string> log, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        await using var server = new ChaosServer(settings.ServerPath, dataDirectory, ChaosSettings.AdminKey, settings.ServerSettings());
        var (connection, ready) = await server.StartAsync(ct);
        using (var admin = new ChaosClient(connection.Grpc, ChaosSettings.AdminKey))
            foreach (var tenant in tenants) await Guard(server, $"creating tenant {tenant.Id}", () => admin.CreateTenantAsync(tenant, ct));
        server.Open(connection);

        var ledger = new ResendLedger();
        var workloads = tenants.Select(t => new TenantWorkload(t, server, ledger, log)).ToList();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var running = workloads.Select(w => w.RunAsync(stop.Token)).ToList();
        var failed = FirstFailure(running);
        var seen = new List<(KillMoment Moment, Restart Restart, int Generation)>();
        try
        {
            var killer = new Killer(server, workloads, clock);
            foreach (var plan in plans)
            {
                var moment = await Until(killer.KillAsync(plan, stop.Token), failed);
                var restart = await Until(RestartAsync(server, tenants, stop.Token), failed);
                seen.Add((moment, restart, server.Generation));
                log(F($"kill {plan.Index}/{plans.Count} {moment.Moment} ({plan.Kind.ToString().ToLowerInvariant()}, {moment.Trigger}) at {moment.AtSeconds:F1} s: ")
                      + F($"{moment.Acked} acknowledged, {moment.AppendsInFlight} in flight; ready {restart.ReadySeconds:F1} s, tenants loaded {restart.ActiveSeconds:F1} s, ")
                      + F($"{restart.Replayed} to replay"));
            }
            await Until(Task.WhenAll(running), failed);
            var outcomes = new List<TenantOutcome>();
            foreach (var w in workloads) outcomes.Add(await w.OutcomeAsync(stop.Token));
            var kills = seen.Select(s =>
            {
                var (resent, duplicates) = ledger.Of(s.Generation);
                var m = s.Moment;
                return new KillRecord(m.Plan.Index, m.Plan.Kind.ToString().ToLowerInvariant(), m.Moment, m.Trigger, m.AtSeconds, m.Acked, m.AppendsInFlight,
                    m.RollbackInFlight, m.CheckpointRequestInFlight, s.Restart.ReadySeconds, s.Restart.ActiveSeconds, s.Restart.Replayed, resent, duplicates);
            }).ToList();
            return new RunOutcome(outcomes, kills, ready.TotalSeconds, clock.Elapsed.TotalSeconds);
        }
        finally
        {
            await stop.CancelAsync();
            try { await Task.WhenAll(running); } catch (Exception) { } // the first failure has been rethrown already
            foreach (var w in workloads) w.Dispose();
        }
    }

    /// <summary>A new process on the same data directory; every tenant is loaded (its checkpoint restored, its log queued for replay) before the clients come back.</summary>
    static async Task<Restart> RestartAsync(ChaosServer server, IReadOnlyList<ChaosTenant> tenants, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var (connection, ready) = await server.StartAsync(ct);
        long replayed = 0;
        using (var admin = new ChaosClient(connection.Grpc, ChaosSettings.AdminKey))
        {
            var loaded = await Task.WhenAll(tenants.Select(t => Guard(server, $"loading tenant {t.Id} after restart {connection.Generation}", () => admin.GetTenantAsync(t.Id, ct))));
            replayed = loaded.Sum(t => t.QueueDepth);
        }
        var active = clock.Elapsed;
        server.Open(connection);
        return new Restart(ready.TotalSeconds, active.TotalSeconds, replayed);
    }

    /// <summary>A call the run cannot go on without: a refusal is the server's failure, reported with its output.</summary>
    static async Task<T> Guard<T>(ChaosServer server, string what, Func<Task<T>> call)
    {
        try { return await call(); }
        catch (RpcException e) { throw new ServerFailure($"{what}: {e.StatusCode}: {e.Status.Detail}", server.OutputTail()); }
    }

    static Task Guard(ChaosServer server, string what, Func<Task> call) => Guard(server, what, async () => { await call(); return true; });

    /// <summary>Completes (faulted) as soon as any of <paramref name="tasks"/> fails.</summary>
    static Task FirstFailure(IEnumerable<Task> tasks)
    {
        var failed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        foreach (var task in tasks)
            _ = task.ContinueWith(t => failed.TrySetException(t.Exception!.InnerExceptions), CancellationToken.None,
                TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        return failed.Task;
    }

    /// <summary><paramref name="work"/>, unless a client fails first: then that failure.</summary>
    static async Task<T> Until<T>(Task<T> work, Task failed)
    {
        if (await Task.WhenAny(work, failed) == failed) ExceptionDispatchInfo.Throw(failed.Exception!.InnerException!);
        return await work;
    }

    static Task Until(Task work, Task failed) => Until(work.ContinueWith(t => { t.GetAwaiter().GetResult(); return true; }, TaskScheduler.Default), failed);

    static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
