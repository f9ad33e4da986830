using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using LoKO.Server.Hosting;
using Microsoft.AspNetCore.Builder;

namespace LoKO.Server.Tests;

/// <summary>
/// The real server in this process: Kestrel on two loopback ports (REST over HTTP/1.1, gRPC over HTTP/2), an
/// Orleans silo on two more (silo and gateway), a SQLite file and checkpoint folder in a data directory, the real
/// minilm-l6 model (few tokens, for speed). Every port is picked free, so servers run side by side.
/// </summary>
public sealed class LoKOTestServer : IAsyncDisposable
{
    public const string AdminKey = "test-admin-key";

    readonly WebApplication _app;
    readonly bool _ownsDataDirectory;

    LoKOTestServer(WebApplication app, string dataDirectory, bool ownsDataDirectory, int restPort, int grpcPort)
    {
        _app = app;
        DataDirectory = dataDirectory;
        _ownsDataDirectory = ownsDataDirectory;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{restPort}"), Timeout = TimeSpan.FromMinutes(2) };
        GrpcAddress = new Uri($"http://127.0.0.1:{grpcPort}");
        Channel = GrpcChannel.ForAddress(GrpcAddress);
        Grpc = new Contracts.V1.LoKO.LoKOClient(Channel);
    }

    public string DataDirectory { get; }
    public HttpClient Http { get; }
    /// <summary>The HTTP/2-only gRPC endpoint (for calls that break the protocol below what a gRPC client sends).</summary>
    public Uri GrpcAddress { get; }
    public GrpcChannel Channel { get; }
    public Contracts.V1.LoKO.LoKOClient Grpc { get; }
    /// <summary>The server's services, e.g. its metadata store for checks the APIs do not expose.</summary>
    public IServiceProvider Services => _app.Services;

    public static async Task<LoKOTestServer> StartAsync(string? dataDirectory = null, params string[] extra)
    {
        bool owns = dataDirectory is null;
        dataDirectory ??= Path.Combine(Path.GetTempPath(), "loko-test-" + Guid.NewGuid().ToString("N"));
        int rest = FreePort(), grpc = FreePort();
        string[] args =
        [
            "--urls", $"http://127.0.0.1:{rest}",
            $"--LoKO:GrpcUrl=http://127.0.0.1:{grpc}",
            .. OrleansPortArguments(),
            $"--LoKO:DataDirectory={dataDirectory}",
            $"--LoKO:AdminKey={AdminKey}",
            "--LoKO:MaxTokens=16",
            "--LoKO:CheckpointEverySeconds=3600",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:Microsoft.EntityFrameworkCore=Warning",
            .. extra,
        ];
        var app = LoKOServer.Build(args);
        await app.StartAsync();
        return new LoKOTestServer(app, dataDirectory, owns, rest, grpc);
    }

    /// <summary>Free silo and gateway ports: the defaults (11111, 30000) would collide between servers.</summary>
    public static string[] OrleansPortArguments() =>
        [$"--LoKO:Orleans:SiloPort={FreePort()}", $"--LoKO:Orleans:GatewayPort={FreePort()}"];

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static Metadata Bearer(string key) => new() { { "authorization", "Bearer " + key } };

    public HttpRequestMessage Request(HttpMethod method, string path, string? key, object? json = null, string? rawJson = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (json is not null) request.Content = JsonContent.Create(json);
        if (rawJson is not null) request.Content = new StringContent(rawJson, Encoding.UTF8, "application/json");
        return request;
    }

    public async Task<(HttpResponseMessage Response, JsonElement Body)> SendAsync(HttpMethod method, string path, string? key, object? json = null, string? rawJson = null)
    {
        var response = await Http.SendAsync(Request(method, path, key, json, rawJson));
        var text = await response.Content.ReadAsStringAsync();
        var body = text.Length > 0 && (text.TrimStart().StartsWith('{') || text.TrimStart().StartsWith('['))
            ? JsonDocument.Parse(text).RootElement.Clone()
            : default;
        return (response, body);
    }

    /// <summary>Creates a minilm-l6 tenant with the admin key; returns its API key.</summary>
    public async Task<string> CreateTenantAsync(string tenantId, string[]? labels = null, string optimizer = "loko", long? seed = null)
    {
        var (response, body) = await SendAsync(HttpMethod.Post, "/v1/tenants", AdminKey,
            new { tenantId, preset = "minilm-l6", labels = labels ?? ["computers", "food"], optimizer, lora = new { rank = 2 }, seed });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return body.GetProperty("apiKey").GetString()!;
    }

    public async Task<JsonElement> WaitForAppliedAsync(string tenantId, string key, long applied)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
        while (true)
        {
            var (response, body) = await SendAsync(HttpMethod.Get, $"/v1/tenants/{tenantId}", key);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            if (body.GetProperty("examplesApplied").GetInt64() + body.GetProperty("examplesRejected").GetInt64() >= applied) return body;
            if (DateTime.UtcNow > deadline) Assert.Fail($"tenant {tenantId}: {applied} examples not applied in time: {body}");
            await Task.Delay(100);
        }
    }

    /// <summary>θ from the adapter download (safetensors: 8-byte header length, JSON header, raw little-endian data).</summary>
    public async Task<float[]> DownloadThetaAsync(string tenantId, string key)
    {
        var response = await Http.SendAsync(Request(HttpMethod.Get, $"/v1/tenants/{tenantId}/adapter", key));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return ThetaOf(await response.Content.ReadAsByteArrayAsync());
    }

    public static float[] ThetaOf(byte[] file)
    {
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(file);
        using var header = JsonDocument.Parse(file.AsMemory(8, (int)headerLength));
        var theta = header.RootElement.GetProperty("theta");
        Assert.Equal("F32", theta.GetProperty("dtype").GetString());
        var offsets = theta.GetProperty("data_offsets");
        long start = 8 + headerLength + offsets[0].GetInt64(), end = 8 + headerLength + offsets[1].GetInt64();
        var values = new float[(end - start) / 4];
        Buffer.BlockCopy(file, (int)start, values, 0, values.Length * 4);
        return values;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        Channel.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        if (_ownsDataDirectory)
        {
            try { Directory.Delete(DataDirectory, recursive: true); } catch (IOException) { }
        }
    }
}

/// <summary>One server shared by the tests that do not restart it (the model loads once).</summary>
public sealed class SharedServer : IAsyncLifetime
{
    public LoKOTestServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await LoKOTestServer.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class SharedServerCollection : ICollectionFixture<SharedServer>
{
    public const string Name = "shared server";
}
