using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using LoKO.Server.Tests.Tools;
using Xunit.Abstractions;

namespace LoKO.Server.Tests;

/// <summary>
/// Debian's Prometheus, started on the shipped deploy/prometheus files (the target pointed at the test server),
/// scrapes a running server: PromQL over its HTTP API returns the tenant's series, every query of the Grafana
/// dashboard evaluates without error, and the alert rules load and evaluate.
/// </summary>
[Collection(SharedServerCollection.Name)]
public class PrometheusScrapeTests(SharedServer shared, ITestOutputHelper output)
{
    LoKOTestServer S => shared.Server;

    [ToolFact("prometheus")]
    public async Task ARealPrometheusScrapesTheServerAndEveryDashboardQueryAndAlertRuleEvaluates()
    {
        const string tenant = "prometheus-scraped";
        var key = await S.CreateTenantAsync(tenant);
        var (posted, _) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, new object[]
        {
            new { text = "the kernel panicked after the update", label = "computers" },
            new { text = "simmer the tomato sauce", label = "food" },
            new { text = "the disk is full again", label = "computers" },
            new { text = "bake the bread for an hour", label = "food" },
        });
        Assert.Equal(HttpStatusCode.Accepted, posted.StatusCode);
        await S.WaitForAppliedAsync(tenant, key, 4);

        var target = S.Http.BaseAddress!.Authority;
        var shipped = File.ReadAllText(Path.Combine(Repository.Root, "deploy/prometheus/prometheus.yml"));
        var configuration = Regex.Replace(shipped, @"(scrape|evaluation)_interval: \d+s", "$1_interval: 1s")
            .Replace("\"loko:8080\"", $"\"{target}\"", StringComparison.Ordinal);
        Assert.Contains(target, configuration);
        await using var prometheus = await PrometheusProcess.StartAsync(configuration,
            new Dictionary<string, string> { ["alerts.yml"] = File.ReadAllText(Path.Combine(Repository.Root, "deploy/prometheus/alerts.yml")) });

        // The tenant's accuracy as PromQL sees it is the value the server exports.
        var answer = await prometheus.QueryUntilAsync($"loko_online_accuracy{{tenant=\"{tenant}\"}}", r => r.GetArrayLength() == 1, TimeSpan.FromSeconds(60));
        double seen = double.Parse(answer.GetProperty("data").GetProperty("result")[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
        var exported = Scrape.Value(await S.Http.GetStringAsync("/metrics"), "loko_online_accuracy", tenant);
        Assert.NotNull(exported);
        Assert.InRange(seen, 0, 1);
        Assert.Equal(exported!.Value, seen, 9);

        var targets = await prometheus.GetAsync("/api/v1/targets");
        var active = targets.GetProperty("data").GetProperty("activeTargets").EnumerateArray().ToList();
        Assert.Contains(active, t => t.GetProperty("scrapeUrl").GetString() == $"http://{target}/metrics" && t.GetProperty("health").GetString() == "up");

        // Every dashboard query, with Grafana's variables as Grafana would expand them for this tenant.
        using var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(Repository.Root, "deploy/grafana/dashboards/loko.json")));
        int evaluated = 0;
        foreach (var panel in dashboard.RootElement.GetProperty("panels").EnumerateArray().Where(p => p.TryGetProperty("targets", out _)))
            foreach (var query in panel.GetProperty("targets").EnumerateArray())
            {
                var promql = query.GetProperty("expr").GetString()!.Replace("$tenant", tenant, StringComparison.Ordinal)
                    .Replace("$__rate_interval", "15s", StringComparison.Ordinal);
                var result = await prometheus.QueryAsync(promql);
                Assert.True(result.GetProperty("status").GetString() == "success", $"panel '{panel.GetProperty("title").GetString()}': '{promql}' → {result}");
                evaluated++;
            }
        Assert.True(evaluated >= 15, $"only {evaluated} dashboard queries");
        var accuracyPanel = await prometheus.QueryAsync($"max by (tenant) (loko_online_accuracy{{tenant=~\"{tenant}\"}})");
        Assert.Equal(1, accuracyPanel.GetProperty("data").GetProperty("result").GetArrayLength());
        // The tenant variable: label_values(loko_examples_accepted_total, tenant).
        var tenants = await prometheus.GetAsync("/api/v1/label/tenant/values?match[]=loko_examples_accepted_total");
        Assert.Contains(tenants.GetProperty("data").EnumerateArray(), v => v.GetString() == tenant);

        // The alert rules load, and each evaluates against the live series without error.
        var groups = await PollRulesAsync(prometheus);
        var rules = groups.SelectMany(g => g.GetProperty("rules").EnumerateArray()).ToList();
        Assert.Equal(["LoKOQueueFull", "LoKOTenantDiverging", "LoKOTenantFrozen", "LoKOTenantStalled"], rules.Select(r => r.GetProperty("name").GetString()!).Order());
        foreach (var rule in rules)
            Assert.True(rule.GetProperty("health").GetString() == "ok", $"rule {rule.GetProperty("name").GetString()}: {rule}");
        output.WriteLine($"PromQL: loko_online_accuracy{{tenant=\"{tenant}\"}} = {seen}; {evaluated} dashboard queries and {rules.Count} alert rules evaluated");
    }

    /// <summary>The rule groups once every rule has been evaluated at least once.</summary>
    static async Task<List<JsonElement>> PollRulesAsync(PrometheusProcess prometheus)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var answer = await prometheus.GetAsync("/api/v1/rules");
            var groups = answer.GetProperty("data").GetProperty("groups").EnumerateArray().ToList();
            var rules = groups.SelectMany(g => g.GetProperty("rules").EnumerateArray()).ToList();
            if (rules.Count > 0 && rules.All(r => r.GetProperty("health").GetString() != "unknown")) return groups;
            if (DateTime.UtcNow > deadline) throw new TimeoutException("the alert rules were not evaluated within 60 s: " + answer);
            await Task.Delay(500);
        }
    }
}
