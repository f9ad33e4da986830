using LoKO.Server.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace LoKO.Server.Tests.Cluster;

/// <summary>
/// Nodes of a cluster started together migrate one PostgreSQL database at once: on a database that does not exist
/// yet, every node's start succeeds and each migration is applied exactly once.
/// </summary>
public sealed class ConcurrentMigrationTests
{
    [PostgresFact]
    public async Task NodesStartingTogetherCreateAndMigrateOneDatabaseOnce()
    {
        var server = await PostgresServer.ConnectionStringAsync();
        var name = "loko_race_" + Guid.NewGuid().ToString("N");
        var connection = new NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString;
        try
        {
            using var start = new Barrier(Nodes);
            var nodes = Enumerable.Range(0, Nodes).Select(_ => Task.Run(() =>
            {
                using var services = new ServiceCollection()
                    .AddMetadataStore(new DatabaseOptions { Provider = DatabaseProvider.Postgres, ConnectionString = connection }, Path.GetTempPath())
                    .BuildServiceProvider();
                start.SignalAndWait();
                MetadataStore.Migrate(services, NullLogger.Instance);
            })).ToArray();
            await Task.WhenAll(nodes);

            await using var db = new PostgresLoKODbContext(new DbContextOptionsBuilder<PostgresLoKODbContext>().UseNpgsql(connection).Options);
            var applied = (await db.Database.GetAppliedMigrationsAsync()).ToList();
            Assert.Equal(db.Database.GetMigrations(), applied);
            Assert.Equal(applied.Count, applied.Distinct().Count());
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await using var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(server) { Database = "postgres" }.ConnectionString);
            await admin.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync();
        }
    }

    const int Nodes = 4;
}
