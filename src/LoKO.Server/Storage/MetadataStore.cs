using Microsoft.EntityFrameworkCore;

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
    /// Applies the provider's migrations (creating a missing PostgreSQL database; concurrent nodes wait on EF's
    /// migration lock). SQLite's file is switched to WAL, a persistent property of the file.
    /// </summary>
    public static void Migrate(IServiceProvider services, ILogger logger)
    {
        using var db = services.GetRequiredService<IDbContextFactory<LoKODbContext>>().CreateDbContext();
        db.Database.Migrate();
        if (db.Database.IsSqlite()) db.Database.ExecuteSqlRaw("PRAGMA journal_mode=WAL;");
        var connection = db.Database.GetDbConnection();
        logger.LogInformation("Metadata store ready: {Provider} at {Source} (database {Database})",
            db.Database.ProviderName, connection.DataSource, connection.Database);
    }
}
