using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using LoKO.Server.Telemetry;
using LoKO.Server.Tests.Tools;
using Microsoft.Extensions.DependencyInjection;

namespace LoKO.Server.Tests;

/// <summary>
/// The container and monitoring files against the real server: every metric the Grafana dashboard queries is one
/// the server exports, Prometheus scrapes the REST port, and the ports the Dockerfile, compose file and k8s
/// manifests name agree.
/// </summary>
[Collection(SharedServerCollection.Name)]
public class DeploymentArtifactsTests(SharedServer shared)
{
    LoKOTestServer S => shared.Server;

    static string Root => Repository.Root;

    [Fact]
    public async Task EveryMetricTheDashboardQueriesIsExported()
    {
        const string tenant = "deployment-dashboard";
        var key = await S.CreateTenantAsync(tenant);
        var (posted, _) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, new object[]
        {
            new { text = "the kernel panicked after the update", label = "computers" },
            new { text = "simmer the tomato sauce", label = "food" },
            new { text = "the disk is full again", label = "computers" },
        });
        Assert.Equal(HttpStatusCode.Accepted, posted.StatusCode);
        await S.WaitForAppliedAsync(tenant, key, 3);
        var (checkpoint, _) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/checkpoints", key);
        Assert.Equal(HttpStatusCode.Created, checkpoint.StatusCode);

        // Rejections, guard interventions, checkpoint fallbacks and storage failures are rare events whose series
        // appear with the first one: record one of each through the server's own instruments, under a tenant of their own.
        var metrics = S.Services.GetRequiredService<LoKOMetrics>();
        var probe = metrics.Track("deployment-probe", () => 0);
        metrics.Rejected(probe);
        metrics.Stepped(probe, TimeSpan.FromMilliseconds(1), applied: true, correct: true, loss: 0.5,
            innovationNorm: 1, noiseTrace: 1, meanCovariance: 1, guardEvent: "loss spike");
        metrics.CheckpointFallback(probe, "checksum");
        metrics.StorageFailed(probe, "append");
        metrics.Untrack("deployment-probe", probe);

        var text = await Scrape.UntilAsync(S, t =>
            Scrape.Value(t, "loko_checkpoint_duration_seconds_count", tenant) == 1 &&
            Scrape.Value(t, "loko_guard_events_total", "deployment-probe") == 1 &&
            Scrape.Value(t, "loko_checkpoint_fallbacks_total", "deployment-probe") == 1 &&
            Scrape.Value(t, "loko_storage_failures_total", "deployment-probe") == 1);
        var exported = Regex.Matches(text, @"(?m)^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]").Select(m => m.Groups[1].Value).ToHashSet();

        using var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "deploy/grafana/dashboards/loko.json")));
        var panels = dashboard.RootElement.GetProperty("panels").EnumerateArray().Where(p => p.GetProperty("type").GetString() != "row").ToList();
        Assert.NotEmpty(panels);
        var queries = new List<(string Where, string Query)>();
        foreach (var panel in panels)
        {
            var title = panel.GetProperty("title").GetString();
            var targets = panel.GetProperty("targets").EnumerateArray().ToList();
            Assert.True(targets.Count > 0, $"panel '{title}' has no query");
            queries.AddRange(targets.Select(t => ($"panel '{title}'", t.GetProperty("expr").GetString() ?? "")));
        }
        foreach (var variable in dashboard.RootElement.GetProperty("templating").GetProperty("list").EnumerateArray())
            queries.Add(($"variable '{variable.GetProperty("name").GetString()}'", variable.GetProperty("definition").GetString() ?? ""));

        var referenced = 0;
        foreach (var (where, query) in queries)
        {
            var names = Regex.Matches(query, @"\bloko_[a-zA-Z0-9_]+").Select(m => m.Value).ToList();
            Assert.True(names.Count > 0, $"{where}: '{query}' queries no loko metric");
            foreach (var name in names)
            {
                Assert.True(exported.Contains(name), $"{where}: '{name}' is not exported at /metrics");
                referenced++;
            }
        }
        Assert.True(referenced >= panels.Count);

        // Every LoKO series the server exports has a panel.
        var queried = string.Join('\n', queries.Select(q => q.Query));
        foreach (var name in exported.Where(n => n.StartsWith("loko_", StringComparison.Ordinal)))
        {
            var family = Regex.Replace(name, "_(bucket|sum|count)$", "");
            Assert.True(queried.Contains(family, StringComparison.Ordinal), $"'{name}' is exported but on no dashboard panel");
        }
    }

    /// <summary>
    /// The alert rules (deploy/prometheus/alerts.yml; promtool checks their syntax and runs their unit tests in
    /// .ci/run) query only metrics the server exports, and Prometheus loads them in compose.
    /// </summary>
    [Fact]
    public async Task EveryMetricTheAlertRulesQueryIsExportedAndPrometheusLoadsThem()
    {
        const string tenant = "deployment-alerts";
        var key = await S.CreateTenantAsync(tenant);
        var (posted, _) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, new { text = "the fan is loud", label = "computers" });
        Assert.Equal(HttpStatusCode.Accepted, posted.StatusCode);
        await S.WaitForAppliedAsync(tenant, key, 1);
        var metrics = S.Services.GetRequiredService<LoKOMetrics>();
        var probe = metrics.Track("deployment-alerts-probe", () => 0);
        metrics.Rejected(probe);
        metrics.Stepped(probe, TimeSpan.FromMilliseconds(1), applied: true, correct: true, loss: 0.5,
            innovationNorm: 1, noiseTrace: 1, meanCovariance: 1, guardEvent: "loss spike");
        metrics.Untrack("deployment-alerts-probe", probe);
        var text = await Scrape.UntilAsync(S, t =>
            Scrape.Value(t, "loko_tenant_frozen", tenant) == 0 && Scrape.Value(t, "loko_guard_events_total", "deployment-alerts-probe") == 1);
        var exported = Regex.Matches(text, @"(?m)^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]").Select(m => m.Groups[1].Value).ToHashSet();

        var rules = ParseRules(File.ReadAllLines(Path.Combine(Root, "deploy/prometheus/alerts.yml")));
        Assert.Equal(["LoKOQueueFull", "LoKOTenantDiverging", "LoKOTenantFrozen", "LoKOTenantStalled"], rules.Keys.Order());
        foreach (var (alert, expr) in rules)
        {
            var names = Regex.Matches(expr, @"\bloko_[a-zA-Z0-9_]+").Select(m => m.Value).Distinct().ToList();
            Assert.True(names.Count > 0, $"alert {alert}: '{expr}' queries no loko metric");
            foreach (var name in names) Assert.True(exported.Contains(name), $"alert {alert}: '{name}' is not exported at /metrics");
        }
        Assert.Contains("loko_tenant_frozen", rules["LoKOTenantFrozen"]);
        Assert.Contains("loko_tenant_frozen", rules["LoKOTenantStalled"]);
        Assert.Contains("loko_queue_capacity", rules["LoKOQueueFull"]);

        var prometheus = File.ReadAllText(Path.Combine(Root, "deploy/prometheus/prometheus.yml"));
        Assert.Matches(@"(?m)^rule_files:\s*\n\s*-\s*alerts\.yml\s*$", prometheus);
        var compose = File.ReadAllText(Path.Combine(Root, "docker-compose.yml"));
        Assert.Contains("./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro", compose);
        Assert.Contains("./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro", compose);
        var ci = File.ReadAllText(Path.Combine(Root, ".ci/run"));
        Assert.Contains("promtool check rules deploy/prometheus/alerts.yml", ci);
        Assert.Contains("promtool test rules deploy/prometheus/alerts.test.yml", ci);
    }

    /// <summary>alert name → expression, from a rules file (an expression is one line or a block scalar under "expr: |").</summary>
    static Dictionary<string, string> ParseRules(string[] lines)
    {
        var rules = new Dictionary<string, string>(StringComparer.Ordinal);
        string? alert = null;
        for (int i = 0; i < lines.Length; i++)
        {
            var name = Regex.Match(lines[i], @"^\s*-\s*alert:\s*(\S+)\s*$");
            if (name.Success) { alert = name.Groups[1].Value; continue; }
            var expr = Regex.Match(lines[i], @"^(\s*)expr:\s*(.*)$");
            if (!expr.Success) continue;
            Assert.True(alert is not null, $"line {i + 1}: an expression outside an alert rule");
            var value = expr.Groups[2].Value.Trim();
            if (value is "|" or ">" or "|-" or ">-")
            {
                int indent = expr.Groups[1].Value.Length;
                var block = new List<string>();
                while (i + 1 < lines.Length && (lines[i + 1].Trim().Length == 0 || lines[i + 1].Length - lines[i + 1].TrimStart().Length > indent))
                    block.Add(lines[++i].Trim());
                value = string.Join(' ', block).Trim();
            }
            rules.Add(alert!, value);
        }
        return rules;
    }

    [Fact]
    public void PrometheusComposeAndKubernetesUseThePortsTheImageExposes()
    {
        var dockerfile = File.ReadAllText(Path.Combine(Root, "Dockerfile"));
        var exposed = Regex.Matches(dockerfile, @"(?m)^EXPOSE\s+(.+)$")
            .SelectMany(m => m.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Select(int.Parse).ToHashSet();
        int rest = int.Parse(Regex.Match(dockerfile, @"ASPNETCORE_URLS=http://0\.0\.0\.0:(\d+)").Groups[1].Value);
        int grpc = int.Parse(Regex.Match(dockerfile, @"LoKO__GrpcUrl=http://0\.0\.0\.0:(\d+)").Groups[1].Value);
        Assert.Contains(rest, exposed);
        Assert.Contains(grpc, exposed);
        Assert.Matches($@"/dev/tcp/127\.0\.0\.1/{rest} .*GET /healthz ", dockerfile);

        var prometheus = File.ReadAllText(Path.Combine(Root, "deploy/prometheus/prometheus.yml"));
        Assert.Matches(@"(?m)^\s*metrics_path:\s*/metrics\s*$", prometheus);
        Assert.Matches($@"targets:\s*\[\s*""loko:{rest}""\s*\]", prometheus);

        // The loko service's block: from "  loko:" to the next service or top-level key.
        var compose = File.ReadAllText(Path.Combine(Root, "docker-compose.yml"));
        var loko = Regex.Match(compose, @"(?ms)^  loko:\s*$(.*?)(?=^  \S|^\S)").Groups[1].Value;
        var published = Regex.Matches(loko, @"(?m)^\s*-\s*""(\d+):(\d+)""").Select(m => int.Parse(m.Groups[2].Value)).ToList();
        Assert.Contains(rest, published);
        Assert.Contains(grpc, published);
        Assert.All(published, port => Assert.Contains(port, exposed));

        var k8s = string.Join('\n', Directory.GetFiles(Path.Combine(Root, "deploy/k8s"), "*.yaml").Select(File.ReadAllText));
        var containerPorts = Regex.Matches(k8s, @"containerPort:\s*(\d+)").Select(m => int.Parse(m.Groups[1].Value)).ToList();
        Assert.Contains(rest, containerPorts);
        Assert.Contains(grpc, containerPorts);
        Assert.All(containerPorts, port => Assert.Contains(port, exposed));
        Assert.Contains($"ASPNETCORE_URLS: http://0.0.0.0:{rest}", k8s);
        Assert.Contains($"LoKO__GrpcUrl: http://0.0.0.0:{grpc}", k8s);
    }
}
