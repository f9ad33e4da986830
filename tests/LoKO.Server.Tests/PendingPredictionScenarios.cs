using System.Net;
using System.Text.Json;
using LoKO.Server.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LoKO.Server.Tests;

/// <summary>
/// How long and how many predictions are kept for feedback, on servers of their own (restarts, other settings); run
/// once per provider (<see cref="SqliteStoreTests"/>, <see cref="PostgresStoreTests"/>): <paramref name="store"/> holds
/// the settings that select it (none for the SQLite default).
/// </summary>
public sealed class PendingPredictionScenarios(string[] store)
{
    static string TempDirectory() => Path.Combine(Path.GetTempPath(), "loko-test-" + Guid.NewGuid().ToString("N"));

    Task<LoKOTestServer> StartAsync(string? data, params string[] extra) => LoKOTestServer.StartAsync(data, [.. store, .. extra]);

    internal static async Task<JsonElement> PredictAsync(LoKOTestServer server, string tenant, string key, string text)
    {
        var (response, body) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/predict", key, new { text });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return body;
    }

    static async Task<HttpStatusCode> FeedbackAsync(LoKOTestServer server, string tenant, string key, string predictionId, string label = "food")
    {
        var (response, body) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/feedback", key, new { predictionId, label });
        if (response.StatusCode == HttpStatusCode.NotFound) Assert.True(body.GetProperty("errors").TryGetProperty("predictionId", out _), body.ToString());
        return response.StatusCode;
    }

    public async Task APredictionKeptBeforeARestartTakesItsFeedbackAfterItAsync()
    {
        var data = TempDirectory();
        try
        {
            string key, predictionId, shownLabel;
            await using (var first = await StartAsync(data))
            {
                key = await first.CreateTenantAsync("remembers");
                var shown = await PredictAsync(first, "remembers", key, "the wifi router keeps dropping");
                predictionId = shown.GetProperty("predictionId").GetString()!;
                shownLabel = shown.GetProperty("label").GetString()!;
            }

            await using var second = await StartAsync(data);
            var (response, body) = await second.SendAsync(HttpMethod.Post, "/v1/tenants/remembers/feedback", key, new { predictionId, label = shownLabel });
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            Assert.Equal(1, body.GetProperty("sequence").GetInt64());
            var tenant = await second.WaitForAppliedAsync("remembers", key, 1);
            Assert.Equal(1.0, tenant.GetProperty("onlineAccuracy").GetDouble());
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    public async Task PredictionsExpireAndPastTheBoundTheOldestAreDroppedAsync()
    {
        await using var server = await StartAsync(null, "--LoKO:PredictionTtlSeconds=3", "--LoKO:MaxPendingPredictions=2");
        const string tenant = "forgets";
        var key = await server.CreateTenantAsync(tenant);
        var ids = new List<string>();
        foreach (var text in new[] { "replace the laptop battery", "fried rice with egg", "the usb port is loose" })
            ids.Add((await PredictAsync(server, tenant, key, text)).GetProperty("predictionId").GetString()!);

        await using (var db = await server.Services.GetRequiredService<IDbContextFactory<LoKODbContext>>().CreateDbContextAsync())
            Assert.Equal(ids[1..], await db.PendingPredictions.Where(p => p.TenantId == tenant).OrderBy(p => p.Id).Select(p => p.PredictionId).ToListAsync());
        Assert.Equal(HttpStatusCode.NotFound, await FeedbackAsync(server, tenant, key, ids[0]));   // the oldest, dropped
        Assert.Equal(HttpStatusCode.Accepted, await FeedbackAsync(server, tenant, key, ids[1]));

        await Task.Delay(TimeSpan.FromSeconds(3.5));
        Assert.Equal(HttpStatusCode.NotFound, await FeedbackAsync(server, tenant, key, ids[2]));   // expired
        // Feedback already given stays a duplicate after its prediction's time is up.
        Assert.Equal(HttpStatusCode.Accepted, await FeedbackAsync(server, tenant, key, ids[1]));
        var described = await server.WaitForAppliedAsync(tenant, key, 1);
        Assert.Equal(1, described.GetProperty("examplesAccepted").GetInt64());
    }
}

public class PendingPredictionTests
{
    [Fact]
    public async Task WithNoPredictionsKeptPredictAnswersNoPredictionId()
    {
        await using var server = await LoKOTestServer.StartAsync(null, "--LoKO:MaxPendingPredictions=0");
        var key = await server.CreateTenantAsync("keeps-none");
        var prediction = await PendingPredictionScenarios.PredictAsync(server, "keeps-none", key, "tomato soup");
        Assert.False(prediction.TryGetProperty("predictionId", out _), prediction.ToString());
        var grpc = await server.Grpc.PredictAsync(new Contracts.V1.PredictRequest { TenantId = "keeps-none", Input = new Contracts.V1.Input { Text = "tomato soup" } },
            LoKOTestServer.Bearer(key));
        Assert.Equal("", grpc.PredictionId);
        await using var db = await server.Services.GetRequiredService<IDbContextFactory<LoKODbContext>>().CreateDbContextAsync();
        Assert.Equal(0, await db.PendingPredictions.CountAsync());
    }
}
