using System.Net;

namespace LoKO.Server.Tests;

/// <summary>
/// A tenant created from a PEFT adapter keeps starting from it. Its own servers, outside the shared server's
/// collection: two servers in one process at once would share its process-wide telemetry.
/// </summary>
public class PeftRestartTests
{
    [Fact]
    public async Task AnImportedTenantStartsFromItsAdapterAgainAfterARestartWithoutCheckpoint()
    {
        var data = Path.Combine(Path.GetTempPath(), "loko-test-" + Guid.NewGuid().ToString("N"));
        string[] noCheckpoints = ["--LoKO:CheckpointOnShutdown=false"];
        try
        {
            string copyKey;
            float[] imported;
            await using (var first = await LoKOTestServer.StartAsync(data, noCheckpoints))
            {
                var key = await first.CreateTenantAsync("peft-restart-source");
                var (posted, _) = await first.SendAsync(HttpMethod.Post, "/v1/tenants/peft-restart-source/examples", key, new object[]
                {
                    new { text = "bake the bread for forty minutes", label = "food" },
                    new { text = "reboot the server and check the disk", label = "computers" },
                });
                Assert.Equal(HttpStatusCode.Accepted, posted.StatusCode);
                await first.WaitForAppliedAsync("peft-restart-source", key, 2);
                imported = await first.DownloadThetaAsync("peft-restart-source", key);
                var export = await first.Http.SendAsync(first.Request(HttpMethod.Get, "/v1/tenants/peft-restart-source/adapter?format=peft", key));
                Assert.Equal(HttpStatusCode.OK, export.StatusCode);
                var zip = await export.Content.ReadAsByteArrayAsync();

                var (created, body) = await first.SendAsync(HttpMethod.Post, "/v1/tenants", LoKOTestServer.AdminKey,
                    new { tenantId = "peft-restarted", preset = "minilm-l6", labels = new[] { "computers", "food" }, adapter = Convert.ToBase64String(zip) });
                Assert.Equal(HttpStatusCode.Created, created.StatusCode);
                copyKey = body.GetProperty("apiKey").GetString()!;
                Assert.Equal(imported, await first.DownloadThetaAsync("peft-restarted", copyKey));
            }

            await using var second = await LoKOTestServer.StartAsync(data, noCheckpoints);
            var (_, tenant) = await second.SendAsync(HttpMethod.Get, "/v1/tenants/peft-restarted", copyKey);
            Assert.Equal(0, tenant.GetProperty("checkpointVersion").GetInt64());
            Assert.Equal(imported, await second.DownloadThetaAsync("peft-restarted", copyKey));
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }
}
