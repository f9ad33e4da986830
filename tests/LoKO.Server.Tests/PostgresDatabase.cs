using Npgsql;

namespace LoKO.Server.Tests;

/// <summary>A fresh database on <see cref="PostgresServer"/> for one test class, dropped after it.</summary>
public sealed class PostgresDatabase : IAsyncLifetime
{
    string? _name;
    string? _server;

    /// <summary>The server settings that select this database.</summary>
    public string[] ServerArgs { get; private set; } = [];

    /// <summary>The connection string of this database.</summary>
    public string ConnectionString { get; private set; } = "";

    public async Task InitializeAsync()
    {
        // Skipped tests need no database; under CI=true a missing server fails every test of the class.
        var missing = PostgresServer.Missing;
        if (missing is not null && !PostgresServer.Required) return;
        if (missing is not null) throw new InvalidOperationException($"CI=true: the PostgreSQL tests must run, but {missing}");

        _server = await PostgresServer.ConnectionStringAsync();
        _name = "loko_test_" + Guid.NewGuid().ToString("N");
        await ExecuteAsync($"CREATE DATABASE \"{_name}\"");
        var connection = new NpgsqlConnectionStringBuilder(_server) { Database = _name }.ConnectionString;
        ConnectionString = connection;
        ServerArgs = ["--LoKO:Database:Provider=postgres", $"--LoKO:Database:ConnectionString={connection}"];
    }

    public async Task DisposeAsync()
    {
        if (_name is null) return;
        NpgsqlConnection.ClearAllPools();
        await ExecuteAsync($"DROP DATABASE IF EXISTS \"{_name}\" WITH (FORCE)");
    }

    async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_server) { Database = "postgres" }.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
