using System.Buffers.Binary;
using System.IO.Compression;
using System.Net;
using Google.Protobuf;
using Grpc.Core;
using LoKO.Contracts.V1;

namespace LoKO.Server.Tests;

/// <summary>
/// gRPC requests the server cannot read (found by the fuzzer, Fuzzing/): each is INVALID_ARGUMENT naming "body", not the
/// UNKNOWN or INTERNAL grpc-dotnet answers by itself, nor a storage fault.
/// </summary>
[Collection(SharedServerCollection.Name)]
public class MalformedGrpcTests(SharedServer shared)
{
    LoKOTestServer S => shared.Server;

    static readonly Marshaller<byte[]> Bytes = Marshallers.Create(b => b, b => b);

    [Fact]
    public async Task AUnaryMessageThatIsNotProtobufIsInvalidArgumentNamingTheBody()
    {
        var predict = new Method<byte[], byte[]>(MethodType.Unary, "loko.v1.LoKO", "Predict", Bytes, Bytes);
        var admin = LoKOTestServer.Bearer(LoKOTestServer.AdminKey);
        foreach (var garbage in new byte[][] { [0x0A, 0x05, 0x61], [0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], [0x0F] })
        {
            var e = await Assert.ThrowsAsync<RpcException>(() => S.Channel.CreateCallInvoker().AsyncUnaryCall(predict, null, new CallOptions(admin), garbage).ResponseAsync);
            Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
            Assert.Equal("body", e.Trailers.GetValue("field"));
        }
    }

    [Fact]
    public async Task AStreamedMessageThatIsNotProtobufEndsTheStreamAsInvalidArgumentAfterTheExamplesBeforeIt()
    {
        var key = LoKOTestServer.Bearer(await S.CreateTenantAsync("malformed-stream"));
        var learn = new Method<byte[], byte[]>(MethodType.DuplexStreaming, "loko.v1.LoKO", "Learn", Bytes, Bytes);
        using var call = S.Channel.CreateCallInvoker().AsyncDuplexStreamingCall(learn, null, new CallOptions(key));
        await call.RequestStream.WriteAsync(new Example { TenantId = "malformed-stream", Input = new Input { Text = "soup" }, Label = "food" }.ToByteArray());
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(AckStatus.Accepted, Ack.Parser.ParseFrom(call.ResponseStream.Current).Status);
        // A string field holding bytes that are not UTF-8: the server took this for a storage fault (UNAVAILABLE).
        await call.RequestStream.WriteAsync([0x0A, 0x02, 0xC3, 0x28]);
        var e = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal("body", e.Trailers.GetValue("field"));
    }

    [Fact]
    public async Task BrokenFramingIsInvalidArgumentNamingTheBody()
    {
        var message = new TenantRef { TenantId = "no-such-tenant" }.ToByteArray();
        var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest)) gzip.Write(message);
        foreach (var (body, encoding) in new (byte[], string?)[]
                 {
                     (Frame(2, message), null),                                  // a flag byte gRPC does not define (was UNKNOWN)
                     (Frame(0, message)[..^2], null),                            // the body ends inside the message (was INTERNAL)
                     (Frame(1, message), null),                                  // compressed, without a grpc-encoding (was INTERNAL)
                     ([.. Frame(0, message), .. Frame(0, message)], null),       // two messages on a unary call (was INTERNAL)
                     ([], null),                                                 // no message at all (was INTERNAL)
                     (Frame(1, "not gzip at all"u8.ToArray()), "gzip"),          // gzip that does not inflate (was UNKNOWN)
                 })
        {
            var (status, field) = await RawUnaryAsync("GetTenant", body, encoding);
            Assert.True(status == StatusCode.InvalidArgument && field == "body", $"{Convert.ToHexString(body)}: {status}, field {field}");
        }
        // Well-formed gzip still works: the tenant is unknown.
        Assert.Equal(StatusCode.NotFound, (await RawUnaryAsync("GetTenant", Frame(1, compressed.ToArray()), "gzip")).Status);
    }

    [Fact]
    public async Task AnErrorQuotingAHugeFieldStillReachesTheClient()
    {
        // The status detail quoted all 100,000 characters; past the client's header limit, the answer never arrived.
        var e = await Assert.ThrowsAsync<RpcException>(async () => await S.Grpc.CreateTenantAsync(new CreateTenantRequest
        {
            TenantId = "huge-preset", Preset = new string('p', 100_000), Labels = { "a", "b" },
        }, LoKOTestServer.Bearer(LoKOTestServer.AdminKey)));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal("preset", e.Trailers.GetValue("field"));
        Assert.InRange(e.Status.Detail.Length, 1, 2000);
    }

    [Fact]
    public async Task TheAdminKeyOnAnEmptyOrUnknownTenantIdIsInvalidArgumentOrNotFound()
    {
        var admin = LoKOTestServer.Bearer(LoKOTestServer.AdminKey);
        var empty = await Assert.ThrowsAsync<RpcException>(async () => await S.Grpc.GetTenantAsync(new TenantRef(), admin));
        Assert.Equal(StatusCode.InvalidArgument, empty.StatusCode);
        Assert.Equal("tenantId", empty.Trailers.GetValue("field"));
        var unknown = await Assert.ThrowsAsync<RpcException>(async () => await S.Grpc.GetTenantAsync(new TenantRef { TenantId = new string('u', 10_000) }, admin));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task ARestRequestThatClaimsToBeGrpcIsNotAnsweredAsGrpc()
    {
        // gRPC's catch-all for unknown services took any unmatched path with this Content-Type: HTTP 200, no body.
        foreach (var (method, path, expected) in new[] { (HttpMethod.Post, "/v1/predict", HttpStatusCode.NotFound), (HttpMethod.Put, "/v1/tenants", HttpStatusCode.MethodNotAllowed) })
        {
            var request = S.Request(method, path, LoKOTestServer.AdminKey);
            request.Content = new ByteArrayContent(Frame(0, []));
            request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/grpc");
            using var response = await S.Http.SendAsync(request);
            Assert.Equal(expected, response.StatusCode);
        }
    }

    static byte[] Frame(byte flag, byte[] message)
    {
        var frame = new byte[5 + message.Length];
        frame[0] = flag;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
        message.CopyTo(frame, 5);
        return frame;
    }

    /// <summary>A unary call as raw HTTP/2: its grpc-status and "field" (trailers-only answers carry them in the headers).</summary>
    async Task<(StatusCode? Status, string? Field)> RawUnaryAsync(string method, byte[] body, string? encoding)
    {
        using var http = new HttpClient { BaseAddress = S.GrpcAddress };
        var request = new HttpRequestMessage(HttpMethod.Post, $"/loko.v1.LoKO/{method}")
        {
            Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact, Content = new ByteArrayContent(body),
        };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        request.Headers.TryAddWithoutValidation("authorization", "Bearer " + LoKOTestServer.AdminKey);
        if (encoding is not null) request.Headers.TryAddWithoutValidation("grpc-encoding", encoding);
        using var response = await http.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();
        string? Value(string name) =>
            response.Headers.TryGetValues(name, out var v) ? v.First() : response.TrailingHeaders.TryGetValues(name, out var t) ? t.First() : null;
        return (Value("grpc-status") is { } s ? (StatusCode)int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : null, Value("field"));
    }
}
