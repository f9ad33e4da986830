using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using StatusCode = global::Grpc.Core.StatusCode;

namespace LoKO.Server.Tests.Fuzzing;

/// <summary>
/// gRPC calls that break the protocol below the message: frames cut short (a stream that ends mid-message), a
/// compressed flag without or with a bogus encoding, flag bytes gRPC does not define, lengths past the message limit,
/// two messages for a unary method, wrong content types and HTTP methods, malformed grpc-timeout, unknown methods and
/// services. Sent over plain HTTP/2 to the gRPC endpoint; every message names a tenant that does not exist, so
/// nothing can be accepted. The answer must be a gRPC status (or an HTTP 4xx), never a 5xx, a reset or a hang.
/// </summary>
public sealed class RawGrpcFrames(Uri grpcAddress, FuzzTargets targets, FuzzLedger ledger) : IDisposable
{
    public const string Api = "gRPC framing";

    readonly HttpClient _http = Client(grpcAddress);

    /// <summary>A client that sends any header bytes it is given (Latin-1).</summary>
    static HttpClient Client(Uri address) => new(new SocketsHttpHandler { RequestHeaderEncodingSelector = (_, _) => Encoding.Latin1 })
    {
        BaseAddress = address,
        Timeout = TimeSpan.FromMinutes(2),
    };

    public async Task SendOneAsync(Random rng, MethodDescriptor method, byte[] message)
    {
        message = AtUnknownTenant(method, message, rng);
        var path = $"/{method.Service.FullName}/{method.Name}";
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        var headers = new List<(string Name, string Value)> { ("te", "trailers"), ("authorization", "Bearer " + targets.AdminKey) };
        string contentType = "application/grpc";
        byte[] body;
        string variant;
        switch (rng.Next(14))
        {
            case 0:
                int cut = rng.Next(0, Math.Max(1, message.Length));
                body = [.. Header(0, message.Length + 1), .. message[..cut]];
                variant = "frame cut short";
                break;
            case 1:
                body = Header(0, message.Length)[..rng.Next(1, 5)];
                variant = "header cut short";
                break;
            case 2:
                body = Frame(1, message);
                variant = "compressed flag, no grpc-encoding";
                break;
            case 3:
                body = Frame(1, message);
                headers.Add(("grpc-encoding", rng.Next(2) == 0 ? "identity" : "br0tli"));
                variant = "compressed flag, grpc-encoding " + headers[^1].Value;
                break;
            case 4:
                body = Frame(1, message);
                headers.Add(("grpc-encoding", "gzip"));
                variant = "compressed flag, gzip, not gzip data";
                break;
            case 5:
                body = Frame((byte)rng.Next(2, 256), message);
                variant = $"flag byte 0x{body[0]:x2}";
                break;
            case 6:
                var length = rng.Next(2) == 0 ? int.MaxValue : 300_000;
                body = [.. Header(0, length), .. message];
                variant = $"length {length}";
                break;
            case 7:
                body = [.. Frame(0, message), .. Frame(0, message)];
                variant = "two messages";
                break;
            case 8:
                body = [];
                variant = "empty body";
                break;
            case 9:
                body = Frame(0, message);
                contentType = new[] { "application/json", "text/plain", "application/grpc+json", "application/grpc-web", "" }[rng.Next(5)];
                variant = $"content-type \"{contentType}\"";
                break;
            case 10:
                body = Frame(0, message);
                request.Method = rng.Next(2) == 0 ? HttpMethod.Get : HttpMethod.Put;
                variant = $"method {request.Method}";
                break;
            case 11:
                body = Frame(0, message);
                headers.Add(("grpc-timeout", new[] { "abc", "1n", "99999999H", "-1S", "", "1ü" }[rng.Next(6)]));
                variant = $"grpc-timeout \"{headers[^1].Value}\"";
                break;
            case 12:
                body = Frame(0, message);
                request.RequestUri = new Uri(rng.Next(2) == 0 ? $"/{method.Service.FullName}/NoSuchMethod" : "/loko.v0.Nope/" + method.Name, UriKind.Relative);
                variant = $"path {request.RequestUri}";
                break;
            default:
                body = Frame(0, message);
                headers.RemoveAll(h => h.Name == "te");
                variant = "no te: trailers";
                break;
        }
        request.Content = new ByteArrayContent(body);
        if (contentType.Length > 0) request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        foreach (var (name, value) in headers) request.Headers.TryAddWithoutValidation(name, value);
        await SendAsync(request, method, variant, malformedHttp: headers.Any(h => h.Value.Any(c => c > 0x7E)));
    }

    /// <param name="malformedHttp">
    /// A header HTTP/2 does not allow (not ASCII): Kestrel closes the whole connection (PROTOCOL_ERROR), which is then
    /// its answer; such a request goes on a connection of its own, so no other call loses its connection with it.
    /// </param>
    async Task SendAsync(HttpRequestMessage request, MethodDescriptor method, string variant, bool malformedHttp)
    {
        string outcome;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var own = malformedHttp ? Client(_http.BaseAddress!) : null;
        try
        {
            using var response = await (own ?? _http).SendAsync(request);
            await response.Content.ReadAsByteArrayAsync();
            int http = (int)response.StatusCode;
            var status = Value(response.Headers, "grpc-status") ?? Value(response.TrailingHeaders, "grpc-status");
            var detail = Uri.UnescapeDataString(Value(response.Headers, "grpc-message") ?? Value(response.TrailingHeaders, "grpc-message") ?? "");
            var code = status is null ? null : (StatusCode?)int.Parse(status, System.Globalization.CultureInfo.InvariantCulture);
            outcome = code is { } c ? c.ToString() : $"HTTP {http}";
            // An HTTP 4xx (a content type that is not gRPC's, say) refuses the request below gRPC: its grpc-status only
            // restates the HTTP status for gRPC clients. Otherwise the server faults are those of GrpcFuzzer.IsFault.
            bool fault = http >= 500 || (http < 400 && code is StatusCode.Unknown or StatusCode.Internal or StatusCode.DataLoss or StatusCode.Unavailable);
            if (fault) ledger.Fault($"{Api} HTTP {http}, grpc-status {code?.ToString() ?? "none"} \"{detail}\": {method.Name}, {variant}");
        }
        catch (HttpRequestException e) when (malformedHttp && e.HttpRequestError == HttpRequestError.HttpProtocolError)
        {
            outcome = "connection refused (PROTOCOL_ERROR)";
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
        {
            outcome = "no answer";
            ledger.Fault($"{Api} no answer ({RestFuzzer.Messages(e)}): {method.Name}, {variant}");
        }
        ledger.Answer(Api, method.Name, outcome, clock.Elapsed);
    }

    static string? Value(HttpHeaders headers, string name) => headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    /// <summary>The message retargeted at a tenant that does not exist (for a creation, an invalid id): nothing it asks for can happen.</summary>
    static byte[] AtUnknownTenant(MethodDescriptor method, byte[] message, Random rng)
    {
        var parsed = GrpcFuzzer.Parse(method.InputType, message) ?? (IMessage)Activator.CreateInstance(method.InputType.ClrType)!;
        var field = parsed.Descriptor.FindFieldByName("tenant_id");
        field?.Accessor.SetValue(parsed, method.Name == "CreateTenant" ? "../not-a-tenant" : "fuzz-unknown-raw-" + rng.Next(100));
        return parsed.ToByteArray();
    }

    static byte[] Header(byte flag, int length)
    {
        var header = new byte[5];
        header[0] = flag;
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(1), (uint)length);
        return header;
    }

    static byte[] Frame(byte flag, byte[] message) => [.. Header(flag, message.Length), .. message];

    public void Dispose() => _http.Dispose();
}
