using System.Net;
using Grpc.Core;
using LoKO.Contracts.V1;

namespace LoKO.Server.Tests;

/// <summary>GET /v1/tenants/{id}/noise and gRPC GetNoiseHistory: the filter's estimates stored with each checkpoint.</summary>
[Collection(SharedServerCollection.Name)]
public class NoiseHistoryTests(SharedServer shared)
{
    LoKOTestServer S => shared.Server;

    [Fact]
    public async Task EachCheckpointAddsARowWithRsTraceAndDiagonalAndTheMeanOfP()
    {
        const string tenant = "noise-rest";
        var key = await S.CreateTenantAsync(tenant);
        var examples = TopicExamples.Make(8).Select(e => new { text = e.Text, label = e.Label }).ToArray();
        var traces = new List<double>();
        for (int round = 0; round < 2; round++)
        {
            var (post, _) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, examples[(4 * round)..(4 * round + 4)]);
            Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
            await S.WaitForAppliedAsync(tenant, key, 4 * (round + 1));
            var (checkpoint, body) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/checkpoints", key);
            Assert.Equal(HttpStatusCode.Created, checkpoint.StatusCode);
            traces.Add(body.GetProperty("noiseTrace").GetDouble());
        }
        // The mean of p after the last step, as /metrics shows it (no step since the checkpoint).
        var metrics = await Scrape.UntilAsync(S, text => Scrape.Value(text, "loko_filter_mean_covariance", tenant) is not null);
        double gauge = Scrape.Value(metrics, "loko_filter_mean_covariance", tenant)!.Value;

        foreach (var caller in new[] { key, LoKOTestServer.AdminKey })
        {
            var (response, history) = await S.SendAsync(HttpMethod.Get, $"/v1/tenants/{tenant}/noise", caller);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var rows = history.EnumerateArray().ToList();
            Assert.Equal([1L, 2L], rows.Select(r => r.GetProperty("version").GetInt64()));
            for (int i = 0; i < rows.Count; i++)
            {
                var diagonal = rows[i].GetProperty("diagonal").EnumerateArray().Select(d => d.GetDouble()).ToList();
                Assert.Equal(2, diagonal.Count);
                Assert.All(diagonal, d => Assert.True(d > 0));
                Assert.Equal(traces[i], rows[i].GetProperty("trace").GetDouble(), 12);
                Assert.Equal(diagonal.Sum(), rows[i].GetProperty("trace").GetDouble(), 12);
                Assert.True(rows[i].GetProperty("meanP").GetDouble() > 0);
                Assert.True(DateTimeOffset.Parse(rows[i].GetProperty("createdUtc").GetString()!) > DateTimeOffset.UtcNow.AddMinutes(-10));
            }
            double meanP = rows[1].GetProperty("meanP").GetDouble();
            Assert.True(Math.Abs(meanP - gauge) <= 1e-5 * gauge, $"meanP {meanP} vs loko_filter_mean_covariance {gauge}");
        }

        var other = await S.CreateTenantAsync("noise-other");
        var (forbidden, _) = await S.SendAsync(HttpMethod.Get, $"/v1/tenants/{tenant}/noise", other);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        var (unauthenticated, _) = await S.SendAsync(HttpMethod.Get, $"/v1/tenants/{tenant}/noise", null);
        Assert.Equal(HttpStatusCode.Unauthorized, unauthenticated.StatusCode);
        var (missing, _) = await S.SendAsync(HttpMethod.Get, "/v1/tenants/noise-nobody/noise", LoKOTestServer.AdminKey);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        var (empty, emptyBody) = await S.SendAsync(HttpMethod.Get, "/v1/tenants/noise-other/noise", other);
        Assert.Equal(HttpStatusCode.OK, empty.StatusCode);
        Assert.Empty(emptyBody.EnumerateArray());
    }

    [Fact]
    public async Task TheNoiseHistoryOverGrpc()
    {
        var client = S.Grpc;
        var admin = LoKOTestServer.Bearer(LoKOTestServer.AdminKey);
        foreach (var optimizer in new[] { "loko", "adamw" })
        {
            var tenant = $"noise-grpc-{optimizer}";
            var created = await client.CreateTenantAsync(new CreateTenantRequest
            {
                TenantId = tenant, Preset = "minilm-l6", Labels = { "computers", "food" }, Optimizer = optimizer, Lora = new LoraSettings { Rank = 2 },
            }, admin);
            var key = LoKOTestServer.Bearer(created.ApiKey);
            var (post, _) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", created.ApiKey,
                TopicExamples.Make(3).Select(e => new { text = e.Text, label = e.Label }).ToArray());
            Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
            await S.WaitForAppliedAsync(tenant, created.ApiKey, 3);
            var checkpoint = await client.CheckpointAsync(new TenantRef { TenantId = tenant }, key);

            var history = await client.GetNoiseHistoryAsync(new TenantRef { TenantId = tenant }, key);
            if (optimizer == "adamw")
            {
                Assert.Empty(history.Estimates); // no R to estimate
                continue;
            }
            var estimate = Assert.Single(history.Estimates);
            Assert.Equal(checkpoint.Version, estimate.Version);
            Assert.Equal(checkpoint.NoiseTrace, estimate.Trace, 12);
            Assert.Equal(2, estimate.Diagonal.Count);
            Assert.Equal(estimate.Diagonal.Sum(), estimate.Trace, 12);
            Assert.True(estimate.MeanP > 0);
            Assert.Equal(checkpoint.CreatedUtc, estimate.CreatedUtc);
        }
        var missing = await Assert.ThrowsAsync<RpcException>(() => client.GetNoiseHistoryAsync(new TenantRef { TenantId = "noise-grpc-nobody" }, admin).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
    }
}
