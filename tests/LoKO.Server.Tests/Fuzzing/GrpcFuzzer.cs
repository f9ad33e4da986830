using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Grpc.Net.Client;
using LoKO.Contracts.V1;

namespace LoKO.Server.Tests.Fuzzing;

/// <summary>
/// Calls every method of the gRPC service with fuzzed messages sent as raw bytes (a byte[] marshaller over the
/// channel, so the server's parser sees exactly what the fuzzer wrote), and records each call's status, each fault and
/// each acknowledgement of an accepted example (Learn acks, Feedback answers). One call in eight instead breaks the
/// gRPC framing itself (<see cref="RawGrpcFrames"/>).
/// </summary>
public sealed class GrpcFuzzer(ServiceDescriptor service, FuzzTargets targets, FuzzLedger ledger, GrpcChannel channel, RawGrpcFrames frames)
{
    public const string Api = "gRPC";

    static readonly Marshaller<byte[]> Bytes = Marshallers.Create(b => b, b => b);

    readonly CallInvoker _invoker = channel.CreateCallInvoker();
    readonly WeightedDraw<MethodDescriptor> _methods = new([.. service.Methods], GrpcGenerators.Weight);

    /// <summary>
    /// Statuses that mean the server failed, not the client: UNKNOWN (an exception escaped a handler), INTERNAL (an
    /// invariant broke; the framing cases of <see cref="RawGrpcFrames"/> judge the library's own framing answers
    /// apart), DATA_LOSS, UNAVAILABLE (the REST side's 503: storage is healthy here, and it is also what the client
    /// reports when the server drops the connection), DEADLINE_EXCEEDED without a short deadline of the fuzzer's (a call
    /// hung for two minutes), and CANCELLED that the fuzzer did not cause.
    /// </summary>
    /// <summary>A call that failed before its request was sent: the client found its HTTP/2 connection closed by the server.</summary>
    static bool NeverStarted(RpcException e) =>
        e.StatusCode is StatusCode.Internal or StatusCode.Unavailable
        && e.Status.Detail.StartsWith("Error starting gRPC call", StringComparison.Ordinal)
        && e.Status.Detail.Contains("server closed the connection", StringComparison.Ordinal);

    public static bool IsFault(StatusCode code, GrpcCase call) => code switch
    {
        StatusCode.Unknown or StatusCode.Internal or StatusCode.DataLoss or StatusCode.Unavailable => true,
        StatusCode.DeadlineExceeded => !call.ShortDeadline,
        StatusCode.Cancelled => call.Cut == StreamCut.None,
        _ => false,
    };

    public async Task SendOneAsync(Random rng)
    {
        var method = _methods.Next(rng);
        if (Draw(method, rng) is not { } call) return;
        if (rng.Next(8) == 0) await frames.SendOneAsync(rng, method, call.Messages[0]);
        else await SendAsync(call, rng);
    }

    GrpcCase? Draw(MethodDescriptor method, Random rng)
    {
        var generate = GrpcGenerators.ByMethod[method.Name];
        for (int attempt = 0; attempt < 20; attempt++)
        {
            var call = generate(new GrpcDraft(method, rng, targets, fuzzed: FuzzSettings.Fuzzed(rng)));
            var first = Parse(method.InputType, call.Messages[0]);
            if (targets.Forbidden(call.Operation, TenantOf(first), call.Authorization)) continue;
            if (call.Cut == StreamCut.Abandon && !call.Messages.All(m => Unacceptable(method.InputType, m))) call = call with { Cut = StreamCut.None };
            return call;
        }
        return null;
    }

    /// <summary>The message the server will read from <paramref name="bytes"/> (the same generated parser), or null when it cannot.</summary>
    public static IMessage? Parse(MessageDescriptor type, byte[] bytes)
    {
        try { return type.Parser.ParseFrom(bytes); }
        catch (InvalidProtocolBufferException) { return null; }
    }

    public static string? TenantOf(IMessage? message) =>
        message?.Descriptor.FindFieldByName("tenant_id")?.Accessor.GetValue(message) as string;

    bool Unacceptable(MessageDescriptor type, byte[] bytes) =>
        Parse(type, bytes) is not Example example || !targets.Labels.Contains(example.Label);

    async Task SendAsync(GrpcCase call, Random rng, bool again = false)
    {
        var method = call.Method;
        var raw = new Method<byte[], byte[]>(TypeOf(method), method.Service.FullName, method.Name, Bytes, Bytes);
        var headers = new Metadata();
        if (call.Authorization is not null) headers.Add("authorization", call.Authorization);
        foreach (var entry in call.Extra) headers.Add(entry);
        using var cut = new CancellationTokenSource();
        var deadline = DateTime.UtcNow + (call.ShortDeadline ? TimeSpan.FromMilliseconds(rng.Next(1, 30)) : TimeSpan.FromMinutes(2));
        var options = new CallOptions(headers, deadline, cut.Token);
        var request = Parse(method.InputType, call.Messages[0]);
        string outcome;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            switch (raw.Type)
            {
                case MethodType.Unary:
                    Answered(call, request, await _invoker.AsyncUnaryCall(raw, null, options, call.Messages[0]));
                    break;
                case MethodType.ServerStreaming:
                    using (var stream = _invoker.AsyncServerStreamingCall(raw, null, options, call.Messages[0]))
                        await foreach (var answer in stream.ResponseStream.ReadAllAsync()) Answered(call, request, answer);
                    break;
                case MethodType.ClientStreaming:
                    using (var upload = _invoker.AsyncClientStreamingCall(raw, null, options))
                    {
                        await WriteAllAsync(upload.RequestStream, call.Messages);
                        Answered(call, request, await upload.ResponseAsync);
                    }
                    break;
                default:
                    using (var duplex = _invoker.AsyncDuplexStreamingCall(raw, null, options))
                        await DuplexAsync(call, duplex, cut, rng, answer => Answered(call, request, answer));
                    break;
            }
            outcome = "OK";
        }
        catch (RpcException e) when (!again && NeverStarted(e))
        {
            // The shared connection was torn down under it (Kestrel's GOAWAY after another call's cut stream): the
            // request never left the client, so it is sent once more; a second failure is judged as any other.
            ledger.Restarted($"{Api} {e.StatusCode} \"{e.Status.Detail}\": {call.Describe()}");
            await SendAsync(call, rng, again: true);
            return;
        }
        catch (RpcException e)
        {
            outcome = cut.IsCancellationRequested && e.StatusCode == StatusCode.Cancelled ? "Cancelled (cut)" : e.StatusCode.ToString();
            if (!cut.IsCancellationRequested && IsFault(e.StatusCode, call))
                ledger.Fault($"{Api} {e.StatusCode} \"{e.Status.Detail}\": {call.Describe()}");
        }
        ledger.Answer(Api, method.Name, outcome, clock.Elapsed);
    }

    /// <summary>
    /// A stream: all messages then the end (<see cref="StreamCut.None"/>); one message at a time, each acknowledged
    /// before the next, then cancelled (<see cref="StreamCut.AfterAcks"/>); or unacceptable messages, then cancelled
    /// at once (<see cref="StreamCut.Abandon"/>).
    /// </summary>
    static async Task DuplexAsync(GrpcCase call, AsyncDuplexStreamingCall<byte[], byte[]> duplex, CancellationTokenSource cut, Random rng, Action<byte[]> answered)
    {
        switch (call.Cut)
        {
            case StreamCut.None:
                var writing = WriteAllAsync(duplex.RequestStream, call.Messages);
                await foreach (var answer in duplex.ResponseStream.ReadAllAsync()) answered(answer);
                await writing;
                break;
            case StreamCut.AfterAcks:
                int keep = rng.Next(0, call.Messages.Count + 1);
                for (int i = 0; i < keep; i++)
                {
                    await duplex.RequestStream.WriteAsync(call.Messages[i]);
                    if (!await duplex.ResponseStream.MoveNext(CancellationToken.None)) return;
                    answered(duplex.ResponseStream.Current);
                }
                if (rng.Next(2) == 0) await duplex.RequestStream.WriteAsync(new Example { TenantId = "x", Label = GrpcGenerators.NoSuchLabel }.ToByteArray());
                await cut.CancelAsync();
                await duplex.ResponseStream.MoveNext(CancellationToken.None);
                break;
            default:
                await WriteAllAsync(duplex.RequestStream, call.Messages, complete: false);
                await cut.CancelAsync();
                await duplex.ResponseStream.MoveNext(CancellationToken.None);
                break;
        }
    }

    /// <summary>Writes until the server ends the call (it may stop reading at a message it cannot parse).</summary>
    static async Task WriteAllAsync(IClientStreamWriter<byte[]> writer, IReadOnlyList<byte[]> messages, bool complete = true)
    {
        try
        {
            foreach (var message in messages) await writer.WriteAsync(message);
            if (complete) await writer.CompleteAsync();
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException or OperationCanceledException) { }
    }

    void Answered(GrpcCase call, IMessage? request, byte[] answer)
    {
        var tenantId = TenantOf(request);
        switch (call.Method.Name)
        {
            case "Learn":
                var ack = Ack.Parser.ParseFrom(answer);
                if (ack.Status is AckStatus.Accepted or AckStatus.Duplicate) Acknowledged(call, tenantId, ack.Sequence, "gRPC Learn");
                break;
            case "Feedback":
                Acknowledged(call, tenantId, FeedbackResponse.Parser.ParseFrom(answer).Sequence, "gRPC Feedback");
                break;
            case "Predict" when tenantId is not null:
                var prediction = Prediction.Parser.ParseFrom(answer);
                if (prediction.PredictionId.Length > 0) targets.Predicted(tenantId, prediction.PredictionId);
                break;
            case "Checkpoint" when tenantId is not null:
                targets.CheckpointWritten(tenantId, CheckpointInfo.Parser.ParseFrom(answer).Version);
                break;
            case "DeleteTenant" when tenantId is not null:
                targets.Deleted(tenantId);
                break;
            case "CreateTenant":
                ledger.Fault($"{Api} created a tenant the fuzzer meant not to create: {call.Describe()}");
                break;
        }
    }

    void Acknowledged(GrpcCase call, string? tenantId, long sequence, string via)
    {
        if (targets.Find(tenantId) is null) ledger.Fault($"{Api} acknowledged sequence {sequence} for a tenant the fuzzer does not know ({tenantId}): {call.Describe()}");
        else ledger.Acknowledged(tenantId!, sequence, via);
    }

    static MethodType TypeOf(MethodDescriptor method) => (method.IsClientStreaming, method.IsServerStreaming) switch
    {
        (false, false) => MethodType.Unary,
        (false, true) => MethodType.ServerStreaming,
        (true, false) => MethodType.ClientStreaming,
        _ => MethodType.DuplexStreaming,
    };
}
