using System.Net;

namespace LoKO.Server.Tests;

public class LimitsTests
{
    [Fact]
    public async Task AFullQueueIs429WithRetryAfterAndAnOversizeBodyIs413()
    {
        await using var server = await LoKOTestServer.StartAsync(null, "--LoKO:MaxQueuedExamples=2", "--LoKO:MaxRequestBytes=4096");
        var key = await server.CreateTenantAsync("limited");

        var batch = Enumerable.Range(0, 3).Select(i => new { text = $"example {i}", label = "food" }).ToArray();
        var (full, fullBody) = await server.SendAsync(HttpMethod.Post, "/v1/tenants/limited/examples", key, batch);
        Assert.Equal(HttpStatusCode.TooManyRequests, full.StatusCode);
        Assert.Equal("application/problem+json", full.Content.Headers.ContentType?.MediaType);
        Assert.True(full.Headers.RetryAfter?.Delta is { TotalSeconds: >= 1 }, $"Retry-After: {full.Headers.RetryAfter}");
        Assert.Equal(429, fullBody.GetProperty("status").GetInt32());

        var (large, largeBody) = await server.SendAsync(HttpMethod.Post, "/v1/tenants/limited/examples", key, new { text = new string('x', 5000), label = "food" });
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, large.StatusCode);
        Assert.Equal(413, largeBody.GetProperty("status").GetInt32());

        // Declared past the limit, a body is a 413 whatever the key, and the connection closes: answered 401 before the
        // body was read, Kestrel dropped the connection after draining it, and a client's next request on it got no answer.
        var (declared, _) = await server.SendAsync(HttpMethod.Post, "/v1/tenants/limited/examples", "not-a-key", rawJson: $"{{\"text\": \"{new string('x', 5000)}\"}}");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, declared.StatusCode);
        Assert.True(declared.Headers.ConnectionClose, $"Connection: {declared.Headers.Connection}");

        // Nothing was appended; a batch that fits is accepted.
        var (ok, okBody) = await server.SendAsync(HttpMethod.Post, "/v1/tenants/limited/examples", key, batch[..2]);
        Assert.Equal(HttpStatusCode.Accepted, ok.StatusCode);
        Assert.Equal([1L, 2L], okBody.GetProperty("sequences").EnumerateArray().Select(e => e.GetInt64()));
    }
}
