using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace LoKO.Server.Tests;

/// <summary>Reads <c>/metrics</c> (Prometheus text format) from the real server.</summary>
static class Scrape
{
    /// <summary>The value of the series <paramref name="metric"/> whose labels include tenant=<paramref name="tenant"/> (and <paramref name="extra"/>), or null.</summary>
    public static double? Value(string text, string metric, string tenant, string? extra = null)
    {
        foreach (var line in text.Split('\n'))
        {
            var m = Regex.Match(line, @"^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\} (\S+)");
            if (!m.Success || m.Groups[1].Value != metric) continue;
            var labels = m.Groups[2].Value;
            if (!labels.Contains($"tenant=\"{tenant}\"", StringComparison.Ordinal)) continue;
            if (extra is not null && !labels.Contains(extra, StringComparison.Ordinal)) continue;
            return double.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture);
        }
        return null;
    }

    /// <summary>
    /// The sum over the series of <paramref name="metric"/> without a tenant label (and whose labels include
    /// <paramref name="extra"/>), or null when there is none: another server in this process may export its own.
    /// </summary>
    public static double? Total(string text, string metric, string? extra = null)
    {
        double? total = null;
        foreach (var line in text.Split('\n'))
        {
            var m = Regex.Match(line, @"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)");
            if (!m.Success || m.Groups[1].Value != metric) continue;
            var labels = m.Groups[2].Value;
            if (labels.Contains("tenant=\"", StringComparison.Ordinal)) continue;
            if (extra is not null && !labels.Contains(extra, StringComparison.Ordinal)) continue;
            total = (total ?? 0) + double.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture);
        }
        return total;
    }

    public static async Task<string> GetAsync(LoKOTestServer server)
    {
        var response = await server.Http.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>Scrapes until <paramref name="done"/> holds (the exporter caches a scrape briefly; counters follow the step by microseconds).</summary>
    public static async Task<string> UntilAsync(LoKOTestServer server, Func<string, bool> done)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var text = await GetAsync(server);
            if (done(text)) return text;
            if (DateTime.UtcNow > deadline) Assert.Fail("/metrics never showed the expected values:\n" + text);
            await Task.Delay(200);
        }
    }
}

[Collection(SharedServerCollection.Name)]
public class MetricsTests(SharedServer shared)
{
    LoKOTestServer S => shared.Server;

    [Fact]
    public async Task MetricsCountAcceptedAndAppliedExamplesPerTenantWithLatencyAndAccuracy()
    {
        const string tenant = "metrics-counts";
        var key = await S.CreateTenantAsync(tenant);
        var (batch, _) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, new object[]
        {
            new { text = "the printer driver crashed", label = "computers" },
            new { text = "garlic bread and olive oil", label = "food" },
            new { text = "upgrade the database server", label = "computers" },
        });
        Assert.Equal(HttpStatusCode.Accepted, batch.StatusCode);
        var (single, _) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, new { text = "a bowl of noodle soup", label = "food" });
        Assert.Equal(HttpStatusCode.Accepted, single.StatusCode);
        await S.WaitForAppliedAsync(tenant, key, 4);
        var (checkpoint, _) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/checkpoints", key);
        Assert.Equal(HttpStatusCode.Created, checkpoint.StatusCode);

        var text = await Scrape.UntilAsync(S, t =>
            Scrape.Value(t, "loko_examples_applied_total", tenant) == 4 && Scrape.Value(t, "loko_checkpoint_duration_seconds_count", tenant) == 1);

        Assert.Equal(4, Scrape.Value(text, "loko_examples_accepted_total", tenant));
        Assert.Equal(4, Scrape.Value(text, "loko_examples_applied_total", tenant));
        Assert.Null(Scrape.Value(text, "loko_examples_rejected_total", tenant));
        Assert.Equal(4, Scrape.Value(text, "loko_step_duration_seconds_count", tenant));
        Assert.True(Scrape.Value(text, "loko_step_duration_seconds_sum", tenant) > 0);
        Assert.Equal(4, Scrape.Value(text, "loko_step_duration_seconds_bucket", tenant, "le=\"+Inf\""));
        Assert.InRange(Scrape.Value(text, "loko_online_accuracy", tenant) ?? -1, 0, 1);
        Assert.True(double.IsFinite(Scrape.Value(text, "loko_online_loss", tenant) ?? double.NaN));
        Assert.True(Scrape.Value(text, "loko_filter_noise_trace", tenant) > 0);
        Assert.True(Scrape.Value(text, "loko_filter_mean_covariance", tenant) > 0);
        Assert.NotNull(Scrape.Value(text, "loko_filter_innovation_norm", tenant));
        Assert.Equal(0, Scrape.Value(text, "loko_queue_depth", tenant));
        Assert.Matches(@"(?m)^loko_tenants_resident\{[^}]*\} [1-9]", text);
    }
}

public class MetricsTenantLabelTests
{
    [Fact]
    public async Task TenantsBeyondTheLabelLimitAreReportedAsOther()
    {
        await using var server = await LoKOTestServer.StartAsync(null, "--LoKO:Metrics:MaxTenantLabels=1");

        var firstKey = await server.CreateTenantAsync("labelled-first");
        await server.SendAsync(HttpMethod.Post, "/v1/tenants/labelled-first/examples", firstKey, new { text = "the network is down", label = "computers" });
        await server.WaitForAppliedAsync("labelled-first", firstKey, 1);

        var secondKey = await server.CreateTenantAsync("labelled-second");
        var (posted, _) = await server.SendAsync(HttpMethod.Post, "/v1/tenants/labelled-second/examples", secondKey, new object[]
        {
            new { text = "roast chicken with potatoes", label = "food" },
            new { text = "a cup of strong coffee", label = "food" },
        });
        Assert.Equal(HttpStatusCode.Accepted, posted.StatusCode);
        await server.WaitForAppliedAsync("labelled-second", secondKey, 2);

        var text = await Scrape.UntilAsync(server, t => Scrape.Value(t, "loko_examples_applied_total", "other") == 2);
        Assert.Equal(1, Scrape.Value(text, "loko_examples_accepted_total", "labelled-first"));
        Assert.Equal(1, Scrape.Value(text, "loko_examples_applied_total", "labelled-first"));
        Assert.Equal(2, Scrape.Value(text, "loko_examples_accepted_total", "other"));
        Assert.Equal(2, Scrape.Value(text, "loko_step_duration_seconds_count", "other"));
        Assert.NotNull(Scrape.Value(text, "loko_online_accuracy", "other"));
        Assert.DoesNotContain("labelled-second", text);
    }
}
