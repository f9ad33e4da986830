using System.Net;
using LoKO.Server.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.DependencyInjection;

namespace LoKO.Server.Tests;

public class SqliteMigrationTests
{
    [Fact]
    public async Task AStoreWithTheFirstSchemaIsMigratedAtStartupAndKeepsItsLogAndIdempotencyKeys()
    {
        var data = Path.Combine(Path.GetTempPath(), "loko-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(data);
        try
        {
            var options = new DbContextOptionsBuilder<SqliteLoKODbContext>().UseSqlite($"Data Source={Path.Combine(data, "loko.db")}").Options;
            await using (var db = new SqliteLoKODbContext(options))
            {
                await db.GetService<IMigrator>().MigrateAsync("20261128184917_Initial");
                await db.Database.ExecuteSqlRawAsync("""
                    INSERT INTO tenants (TenantId, Preset, LabelsJson, Optimizer, LoraJson, FilterJson, ApiKeyHash, Seed, CheckpointVersion, NextCheckpointVersion, CreatedUtc)
                    VALUES ('veteran', 'minilm-l6', '["computers","food"]', 'loko', '{{"rank":2}}', '{{}}', 'no-key', 1, 0, 1, '2026-11-01 00:00:00');
                    INSERT INTO examples (TenantId, Sequence, ExampleId, PayloadKind, Payload, Width, Height, Label, LabelIndex, Applied, RolledBack, AcceptedUtc)
                    VALUES ('veteran', 1, 'old-1', 1, CAST('reboot the server' AS BLOB), 0, 0, 'computers', 0, 0, 0, '2026-11-01 00:00:01'),
                           ('veteran', 2, NULL, 1, CAST('apple pie' AS BLOB), 0, 0, 'food', 1, 0, 0, '2026-11-01 00:00:02');
                    """);
            }
            SqliteConnection.ClearAllPools();

            await using var server = await LoKOTestServer.StartAsync(data);
            const string admin = LoKOTestServer.AdminKey;
            var tenant = await server.WaitForAppliedAsync("veteran", admin, 2);
            Assert.Equal(2, tenant.GetProperty("examplesAccepted").GetInt64());

            var (resent, resentBody) = await server.SendAsync(HttpMethod.Post, "/v1/tenants/veteran/examples", admin,
                new { text = "reboot the server", label = "computers", exampleId = "old-1" });
            Assert.Equal(HttpStatusCode.Accepted, resent.StatusCode);
            Assert.Equal(1, resentBody.GetProperty("sequence").GetInt64());
            var (fresh, freshBody) = await server.SendAsync(HttpMethod.Post, "/v1/tenants/veteran/examples", admin,
                new { text = "lentil curry", label = "food", exampleId = "new-1" });
            Assert.Equal(HttpStatusCode.Accepted, fresh.StatusCode);
            Assert.Equal(3, freshBody.GetProperty("sequence").GetInt64());

            await using var store = await server.Services.GetRequiredService<IDbContextFactory<LoKODbContext>>().CreateDbContextAsync();
            var keys = await store.ExampleIds.Where(k => k.TenantId == "veteran").OrderBy(k => k.Sequence).Select(k => new { k.ExampleId, k.Sequence }).ToListAsync();
            Assert.Equal([new { ExampleId = "old-1", Sequence = 1L }, new { ExampleId = "new-1", Sequence = 3L }], keys);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        }
    }
}
