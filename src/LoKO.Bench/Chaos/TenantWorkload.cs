using System.Diagnostics;
using Grpc.Core;
using LoKO.Contracts.V1;

namespace LoKO.Bench.Chaos;

/// <summary>
/// The client of one tenant, across kills: it streams the tenant's examples in order over gRPC, each with its
/// exampleId, and takes the acknowledgements (in order, so the acknowledged ones are a prefix); at each rollback
/// point it waits until the tenant has learned what it acknowledged, asks for a checkpoint, streams on, and rolls
/// back to it. When a call fails because the server was killed, it waits for the next server and resends everything
/// not acknowledged with the same exampleIds (or repeats the checkpoint or rollback request whose answer was lost).
/// As it goes it checks what the server promises: acknowledgements for the example sent next, DUPLICATE only for an
/// example sent before, checkpoints and rollbacks at the sequence asked for.
/// </summary>
sealed class TenantWorkload(ChaosTenant tenant, ChaosServer server, ResendLedger ledger, Action<string> log) : IDisposable
{
    static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);
    static readonly TimeSpan StallLimit = TimeSpan.FromMinutes(5);
    static readonly TimeSpan RetryWait = TimeSpan.FromSeconds(1);
    const int MaxErrorsInARow = 5;

    readonly long[] _sequences = new long[tenant.Count];
    readonly bool[] _sent = new bool[tenant.Count];
    readonly bool[] _resent = new bool[tenant.Count];
    readonly List<string> _errors = [];
    readonly List<long> _rollbackVersions = [];
    int _acked, _written, _rollbacksLeft = tenant.Cycles.Count;
    int _resentCount, _duplicates, _firstSendDuplicates, _interruptions, _queueRetries;
    volatile bool _rollbackInFlight, _checkpointInFlight, _done;
    ChaosClient? _client;
    int _clientGeneration = -1;

    public ChaosTenant Spec => tenant;
    public int Acked => Volatile.Read(ref _acked);
    /// <summary>Examples written to the current stream and not yet acknowledged.</summary>
    public int InFlight => Math.Max(0, Volatile.Read(ref _written) - Volatile.Read(ref _acked));
    public bool RollbackInFlight => _rollbackInFlight;
    public bool CheckpointInFlight => _checkpointInFlight;
    public int RollbacksLeft => Volatile.Read(ref _rollbacksLeft);
    public bool Done => _done;

    /// <summary>The sequence each example was acknowledged under.</summary>
    public IReadOnlyList<long> Sequences => _sequences;
    public int Resent => Volatile.Read(ref _resentCount);
    public int Duplicates => Volatile.Read(ref _duplicates);
    /// <summary>DUPLICATE answers to an example never sent before: the server knew an exampleId it had not been given.</summary>
    public int FirstSendDuplicates => Volatile.Read(ref _firstSendDuplicates);
    /// <summary>Calls that failed because the server was killed under them.</summary>
    public int Interruptions => Volatile.Read(ref _interruptions);
    /// <summary>Streams the live server ended with RESOURCE_EXHAUSTED (its queue stayed full past LoKO:QueueWaitSeconds).</summary>
    public int QueueRetries => Volatile.Read(ref _queueRetries);

    /// <summary>Errors from a live server that were not a full queue.</summary>
    public IReadOnlyList<string> Errors
    {
        get { lock (_errors) return [.. _errors]; }
    }

    public async Task RunAsync(CancellationToken ct)
    {
        foreach (var cycle in tenant.Cycles)
        {
            await StreamToAsync(cycle.CheckpointAt, ct);
            long version = await RetryAsync((client, _, t) => CheckpointAsync(client, cycle, t), ct);
            await StreamToAsync(cycle.RollbackAt, ct);
            await RetryAsync((client, _, t) => RollbackAsync(client, cycle, version, t), ct);
            Interlocked.Decrement(ref _rollbacksLeft);
        }
        await StreamToAsync(tenant.Count, ct);
        await RetryAsync((client, _, t) => LearnedAsync(client, tenant.Count, t), ct);
        _done = true;
    }

    /// <summary>After the run: the tenant once it has learned everything (a last kill may have left a replay), and its θ.</summary>
    public async Task<TenantOutcome> OutcomeAsync(CancellationToken ct)
    {
        var final = await RetryAsync((client, _, t) => LearnedAsync(client, tenant.Count, t), ct);
        var theta = await RetryAsync((client, _, t) => client.ThetaAsync(tenant.Id, t), ct);
        long[] versions;
        lock (_rollbackVersions) versions = [.. _rollbackVersions];
        return new TenantOutcome(tenant, final, theta, [.. _sequences], versions, Resent, Duplicates, FirstSendDuplicates,
            Interruptions, QueueRetries, Errors);
    }

    Task StreamToAsync(int stop, CancellationToken ct) => RetryAsync((client, generation, t) => StreamAsync(client, generation, stop, t), ct);

    /// <summary>
    /// <paramref name="work"/> on the live server until it completes. A failure after a kill waits for the next
    /// server; a full queue is tried again; any other error from a live server is noted and tried again, a few times.
    /// </summary>
    async Task<T> RetryAsync<T>(Func<ChaosClient, int, CancellationToken, Task<T>> work, CancellationToken ct)
    {
        int errorsInARow = 0;
        while (true)
        {
            var connection = await server.UpAsync(ct);
            try
            {
                return await work(ClientOf(connection), connection.Generation, ct);
            }
            catch (Exception e) when (e is not ChaosFailure && !ct.IsCancellationRequested)
            {
                if (connection.Generation != server.Generation)
                {
                    Interlocked.Increment(ref _interruptions);
                    continue;
                }
                if (e is RpcException { StatusCode: StatusCode.ResourceExhausted })
                    Interlocked.Increment(ref _queueRetries);
                else
                {
                    var what = $"{tenant.Id}: error from the live server (generation {connection.Generation}): {Describe(e)}";
                    lock (_errors) _errors.Add(what);
                    log(what);
                    if (++errorsInARow >= MaxErrorsInARow) throw new ChaosFailure($"{what} ({errorsInARow} in a row)");
                }
                await Task.Delay(RetryWait, ct);
            }
        }
    }

    ChaosClient ClientOf(ServerConnection connection)
    {
        if (_client is not null && _clientGeneration == connection.Generation) return _client;
        _client?.Dispose();
        _client = new ChaosClient(connection.Grpc, connection.AdminKey);
        _clientGeneration = connection.Generation;
        return _client;
    }

    /// <summary>One Learn stream: writes the examples from the first unacknowledged one up to <paramref name="stop"/> and reads their acknowledgements.</summary>
    async Task<bool> StreamAsync(ChaosClient client, int generation, int stop, CancellationToken ct)
    {
        int from = Acked;
        if (from >= stop) return true;
        Volatile.Write(ref _written, from);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var call = client.Learn(cancel.Token);
        var writing = WriteAsync(call.RequestStream, generation, from, stop, cancel.Token);
        try
        {
            await foreach (var ack in call.ResponseStream.ReadAllAsync(cancel.Token)) Take(ack, generation, stop);
            if (Acked < stop) throw new IOException($"the Learn stream ended after {Acked - from} of {stop - from} acknowledgements");
            await writing;
        }
        finally
        {
            await cancel.CancelAsync();
            // A writer that failed did so because the call did, which the reader has already reported.
            try { await writing; } catch (Exception) when (cancel.IsCancellationRequested) { }
        }
        return true;
    }

    async Task WriteAsync(IClientStreamWriter<Example> stream, int generation, int from, int stop, CancellationToken ct)
    {
        for (int i = from; i < stop; i++)
        {
            if (_sent[i])
            {
                Volatile.Write(ref _resent[i], true);
                Interlocked.Increment(ref _resentCount);
                ledger.Resent(generation, 1);
            }
            _sent[i] = true;
            var example = tenant.Examples[i];
            await stream.WriteAsync(new Example
            {
                TenantId = tenant.Id, Input = new Input { Text = example.Text }, Label = example.Label, ExampleId = tenant.ExampleId(i),
            }, ct);
            Volatile.Write(ref _written, i + 1);
        }
        await stream.CompleteAsync();
    }

    void Take(Ack ack, int generation, int stop)
    {
        int i = Acked;
        var expected = i < stop ? tenant.ExampleId(i) : null;
        if (ack.ExampleId != expected)
            throw new ChaosFailure($"{tenant.Id}: an acknowledgement for '{ack.ExampleId}' ({ack.Status}) where {(expected is null ? "none was due" : $"'{expected}' was next")}");
        switch (ack.Status)
        {
            case AckStatus.Accepted:
                break;
            case AckStatus.Duplicate:
                Interlocked.Increment(ref _duplicates);
                ledger.Duplicate(generation);
                if (!Volatile.Read(ref _resent[i])) Interlocked.Increment(ref _firstSendDuplicates);
                break;
            default:
                throw new ChaosFailure($"{tenant.Id}: example '{expected}' was acknowledged {ack.Status} ({ack.Field}: {ack.Error})");
        }
        _sequences[i] = ack.Sequence;
        Volatile.Write(ref _acked, i + 1);
    }

    async Task<long> CheckpointAsync(ChaosClient client, RollbackCycle cycle, CancellationToken ct)
    {
        await LearnedAsync(client, cycle.CheckpointAt, ct);
        CheckpointInfo info;
        _checkpointInFlight = true;
        try { info = await client.CheckpointAsync(tenant.Id, ct); }
        finally { _checkpointInFlight = false; }
        long expected = _sequences[cycle.CheckpointAt - 1];
        if (info.LastAppliedSequence != expected)
            throw new ChaosFailure($"{tenant.Id}: checkpoint v{info.Version} holds sequence {info.LastAppliedSequence}, not {expected}, the last one learned");
        return info.Version;
    }

    async Task<bool> RollbackAsync(ChaosClient client, RollbackCycle cycle, long version, CancellationToken ct)
    {
        Tenant after;
        _rollbackInFlight = true;
        try { after = await client.RollbackAsync(tenant.Id, version, ct); }
        finally { _rollbackInFlight = false; }
        long expected = _sequences[cycle.CheckpointAt - 1];
        if (after.CheckpointVersion != version || after.LastAppliedSequence != expected)
            throw new ChaosFailure($"{tenant.Id}: the rollback to v{version} left checkpoint v{after.CheckpointVersion} at sequence {after.LastAppliedSequence}, not sequence {expected}");
        lock (_rollbackVersions) _rollbackVersions.Add(version);
        return true;
    }

    /// <summary>Waits until the tenant has learned the first <paramref name="count"/> examples and has nothing queued.</summary>
    async Task<Tenant> LearnedAsync(ChaosClient client, int count, CancellationToken ct)
    {
        long target = _sequences[count - 1];
        long seen = -1;
        var progressed = Stopwatch.GetTimestamp();
        while (true)
        {
            var t = await client.GetTenantAsync(tenant.Id, ct);
            if (t.Frozen) throw new ChaosFailure($"{tenant.Id}: frozen by the guard rails ({string.Join("; ", t.Events.Select(e => e.Reason))})");
            if (t.LastAppliedSequence > target)
                throw new ChaosFailure($"{tenant.Id}: learned up to sequence {t.LastAppliedSequence}, past {target}, the last one acknowledged");
            if (t.LastAppliedSequence == target && t.QueueDepth == 0) return t;
            if (t.LastAppliedSequence != seen) (seen, progressed) = (t.LastAppliedSequence, Stopwatch.GetTimestamp());
            else if (Stopwatch.GetElapsedTime(progressed) > StallLimit)
                throw new ChaosFailure($"{tenant.Id}: no example learned for {StallLimit.TotalMinutes:F0} min (at sequence {seen}, waiting for {target})");
            await Task.Delay(Poll, ct);
        }
    }

    static string Describe(Exception e) => e is RpcException r ? $"{r.StatusCode}: {r.Status.Detail}" : $"{e.GetType().Name}: {e.Message}";

    public void Dispose() => _client?.Dispose();
}
