using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace LoKO.Server.Storage;

/// <summary>Registers the configured metadata store and brings its schema up to date at startup.</summary>
public static class MetadataStore
{
    /// <summary>Registers <see cref="IDbContextFactory{LoKODbContext}"/> for the configured provider.</summary>
    public static IServiceCollection AddMetadataStore(this IServiceCollection services, DatabaseOptions options, string dataDirectory)
    {
        switch (options.Provider)
        {
            case DatabaseProvider.Sqlite:
                var file = string.IsNullOrWhiteSpace(options.ConnectionString)
                    ? $"Data Source={Path.Combine(dataDirectory, "loko.db")}"
                    : options.ConnectionString;
                services.AddDbContextFactory<SqliteLoKODbContext>(db => db.UseSqlite(file).AddInterceptors(new SqlitePragmas()));
                services.AddSingleton<IDbContextFactory<LoKODbContext>, ProviderContextFactory<SqliteLoKODbContext>>();
                break;
            case DatabaseProvider.Postgres:
                if (string.IsNullOrWhiteSpace(options.ConnectionString))
                    throw new InvalidOperationException("LoKO:Database:ConnectionString is required when LoKO:Database:Provider is postgres");
                services.AddDbContextFactory<PostgresLoKODbContext>(db => db.UseNpgsql(options.ConnectionString));
                services.AddSingleton<IDbContextFactory<LoKODbContext>, ProviderContextFactory<PostgresLoKODbContext>>();
                break;
            default:
                throw new InvalidOperationException($"LoKO:Database:Provider '{options.Provider}' is not supported: sqlite or postgres");
        }
        return services;
    }

    /// <summary>
    /// Applies the provider's migrations (creating a missing PostgreSQL database). SQLite's file is switched to WAL,
    /// a persistent property of the file.
    /// </summary>
    public static void Migrate(IServiceProvider services, ILogger logger)
    {
        using var db = services.GetRequiredService<IDbContextFactory<LoKODbContext>>().CreateDbContext();
        if (db.Database.IsNpgsql()) MigrateAlone(db);
        else db.Database.Migrate();
        if (db.Database.IsSqlite()) db.Database.ExecuteSqlRaw("PRAGMA journal_mode=WAL;");
        var connection = db.Database.GetDbConnection();
        logger.LogInformation("Metadata store ready: {Provider} at {Source} (database {Database})",
            db.Database.ProviderName, connection.DataSource, connection.Database);
    }

    /// <summary>
    /// Nodes started together race on creating the database and on EF's history table (a duplicate-object error
    /// fails all but one start), so each migrates under one server-wide advisory lock. The lock is taken in the
    /// maintenance database, the one Npgsql creates missing databases from, since the target may not exist yet.
    /// </summary>
    static void MigrateAlone(LoKODbContext db)
    {
        var target = new NpgsqlConnectionStringBuilder(db.Database.GetConnectionString());
        var maintenance = new NpgsqlConnectionStringBuilder(target.ConnectionString) { Database = "postgres", Pooling = false };
        using var connection = new NpgsqlConnection(maintenance.ConnectionString);
        connection.Open();
        using (var take = new NpgsqlCommand("SELECT pg_advisory_lock(@key)", connection))
        {
            take.Parameters.AddWithValue("key", MigrationLockKey);
            take.CommandTimeout = 0;
            take.ExecuteNonQuery();
        }
        try { db.Database.Migrate(); }
        finally
        {
            using var release = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", connection);
            release.Parameters.AddWithValue("key", MigrationLockKey);
            release.ExecuteNonQuery();
        }
    }

    /// <summary>The advisory lock's key: "LoKOmigr" as a big-endian 64-bit integer.</summary>
    const long MigrationLockKey = 0x4C6F4B4F6D696772;
}
