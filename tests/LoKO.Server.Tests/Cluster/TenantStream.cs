using System.Diagnostics;
using Grpc.Core;
using LoKO.Contracts.V1;

namespace LoKO.Server.Tests.Cluster;

/// <summary>
/// One tenant's client in the failover test: it streams the tenant's examples in order over gRPC Learn, each with its
/// exampleId, through its own node while that lives. When a call fails (its node was killed, or the tenant's silo was)
/// it reconnects — to a surviving node if its own is gone — and resends everything not yet acknowledged, with the
/// same exampleIds. Acknowledgements come in order, so the acknowledged examples are always a prefix.
/// </summary>
public sealed class TenantStream(string tenantId, IReadOnlyList<(string Text, string Label)> examples, IReadOnlyList<ClusterNode> nodes, int home)
{
    static readonly TimeSpan Pacing = TimeSpan.FromMilliseconds(20);

    readonly long[] _sequences = new long[examples.Count];
    readonly bool[] _sent = new bool[examples.Count];
    int _acked;

    public string TenantId => tenantId;
    public int Acked => Volatile.Read(ref _acked);
    public IReadOnlyList<long> Sequences => _sequences;
    /// <summary>Calls that failed under the client.</summary>
    public int Interruptions { get; private set; }
    public int Resent { get; private set; }
    public int Duplicates { get; private set; }
    /// <summary>When (on <see cref="Clock"/>) each acknowledgement arrived.</summary>
    public List<TimeSpan> AckTimes { get; } = [];
    public Stopwatch Clock { get; init; } = Stopwatch.StartNew();

    public static string ExampleId(int i) => $"e{i}";

    /// <summary>Streams until the first <paramref name="stop"/> examples are acknowledged.</summary>
    public async Task StreamToAsync(int stop, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
        while (Acked < stop)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{tenantId}: {Acked} of {stop} acknowledged in 5 minutes");
            var node = Node();
            try
            {
                await StreamAsync(node, stop, ct);
            }
            catch (Exception e) when (e is RpcException or IOException or InvalidOperationException && !ct.IsCancellationRequested)
            {
                Interruptions++;
                await Task.Delay(TimeSpan.FromMilliseconds(500), ct);
            }
        }
    }

    /// <summary>Its own node while it lives, else the next surviving one.</summary>
    ClusterNode Node()
    {
        for (int i = 0; i < nodes.Count; i++)
            if (nodes[(home + i) % nodes.Count] is { HasExited: false } node) return node;
        throw new InvalidOperationException("no node left");
    }

    async Task StreamAsync(ClusterNode node, int stop, CancellationToken ct)
    {
        int from = Acked;
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var call = node.Grpc.Learn(ClusterNode.Admin, cancellationToken: cancel.Token);
        var writing = WriteAsync(call.RequestStream, from, stop, cancel.Token);
        try
        {
            await foreach (var ack in call.ResponseStream.ReadAllAsync(cancel.Token))
            {
                int i = Acked;
                Assert.Equal(ExampleId(i), ack.ExampleId);
                Assert.True(ack.Status is AckStatus.Accepted or AckStatus.Duplicate, $"{tenantId}: {ack}");
                if (ack.Status == AckStatus.Duplicate) Duplicates++;
                _sequences[i] = ack.Sequence;
                lock (AckTimes) AckTimes.Add(Clock.Elapsed);
                Volatile.Write(ref _acked, i + 1);
            }
            if (Acked < stop) throw new IOException($"{tenantId}: the stream ended after {Acked - from} of {stop - from} acknowledgements");
            await writing;
        }
        finally
        {
            await cancel.CancelAsync();
            try { await writing; } catch (Exception) when (cancel.IsCancellationRequested) { }
        }
    }

    async Task WriteAsync(IClientStreamWriter<Example> stream, int from, int stop, CancellationToken ct)
    {
        for (int i = from; i < stop; i++)
        {
            if (_sent[i]) Resent++;
            _sent[i] = true;
            await stream.WriteAsync(new Example
            {
                TenantId = tenantId, Input = new Input { Text = examples[i].Text }, Label = examples[i].Label, ExampleId = ExampleId(i),
            }, ct);
            await Task.Delay(Pacing, ct);
        }
        await stream.CompleteAsync();
    }
}
