using LoKO.Server.Storage;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace LoKO.Server.Tests.Cluster;

/// <summary>
/// The project's Orleans membership schema on a real PostgreSQL, run through the queries Orleans' ADO.NET provider
/// reads from OrleansQuery, with the parameters it binds: applied by the migrations, again without harm, and every
/// write conditional on the membership table's version.
/// </summary>
public sealed class MembershipSchemaTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    static readonly string[] Keys =
    [
        "CleanupDefunctSiloEntriesKey", "DeleteMembershipTableEntriesKey", "GatewaysQueryKey", "InsertMembershipKey", "InsertMembershipVersionKey",
        "MembershipReadAllKey", "MembershipReadRowKey", "UpdateIAmAlivetimeKey", "UpdateMembershipKey",
    ];

    [PostgresFact]
    public async Task TheSchemaAppliesTwiceAndItsWritesSucceedOnlyAgainstTheCurrentVersion()
    {
        await using (var db = new PostgresLoKODbContext(new DbContextOptionsBuilder<PostgresLoKODbContext>().UseNpgsql(database.ConnectionString).Options))
        {
            await db.Database.MigrateAsync();
            // Idempotent: the script again, twice, changes nothing.
            await db.Database.ExecuteSqlRawAsync(OrleansMembershipSchema.Version(1));
            await db.Database.ExecuteSqlRawAsync(OrleansMembershipSchema.Version(1));
        }
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        var queries = new Dictionary<string, string>();
        await using (var read = new NpgsqlCommand("SELECT QueryKey, QueryText FROM OrleansQuery", connection))
        await using (var reader = await read.ExecuteReaderAsync())
            while (await reader.ReadAsync()) queries[reader.GetString(0)] = reader.GetString(1);
        Assert.Equal(Keys, queries.Keys.Order());

        async Task<int> Scalar(string key, params (string Name, object? Value)[] parameters)
        {
            await using var command = new NpgsqlCommand(queries[key], connection);
            foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value ?? DBNull.Value);
            return Convert.ToInt32(await command.ExecuteScalarAsync());
        }
        var now = DateTime.UtcNow;
        (string, object?)[] Silo(int version, int status) =>
        [
            ("DeploymentId", "c1"), ("Address", "127.0.0.1"), ("Port", 11111), ("Generation", 7), ("SiloName", "s"), ("HostName", "h"),
            ("Status", status), ("ProxyPort", 30000), ("StartTime", now), ("IAmAliveTime", now), ("Version", version), ("SuspectTimes", null),
        ];

        Assert.Equal(1, await Scalar("InsertMembershipVersionKey", ("DeploymentId", "c1")));
        Assert.Equal(0, await Scalar("InsertMembershipVersionKey", ("DeploymentId", "c1")));
        Assert.Equal(1, await Scalar("InsertMembershipKey", Silo(0, 1)));
        // A silo that read version 0 lost the race: nothing written.
        Assert.Equal(0, await Scalar("InsertMembershipKey", [.. Silo(0, 1).Select(p => p.Item1 == "Generation" ? ("Generation", 8) : p)]));
        Assert.Equal(0, await Scalar("UpdateMembershipKey", Silo(0, 3)));
        Assert.Equal(1, await Scalar("UpdateMembershipKey", Silo(1, 3)));

        await using (var all = new NpgsqlCommand(queries["MembershipReadAllKey"], connection))
        {
            all.Parameters.AddWithValue("DeploymentId", "c1");
            await using var reader = await all.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.Equal(3, reader.GetInt32(reader.GetOrdinal("Status")));
            Assert.Equal(2, reader.GetInt32(reader.GetOrdinal("Version")));
            Assert.Equal(30000, reader.GetInt32(reader.GetOrdinal("ProxyPort")));
            Assert.False(await reader.ReadAsync());
        }
        await using (var gateways = new NpgsqlCommand(queries["GatewaysQueryKey"], connection))
        {
            gateways.Parameters.AddWithValue("DeploymentId", "c1");
            gateways.Parameters.AddWithValue("Status", 3);
            await using var reader = await gateways.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.Equal(("127.0.0.1", 30000, 7),
                (reader.GetString(reader.GetOrdinal("Address")), reader.GetInt32(reader.GetOrdinal("ProxyPort")), reader.GetInt32(reader.GetOrdinal("Generation"))));
        }
    }
}
