using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace LoKO.Server.Storage;

/// <summary>
/// Let `dotnet ef migrations add &lt;Name&gt; --context SqliteLoKODbContext|PostgresLoKODbContext` build each
/// provider's model without starting the server; no database is opened.
/// </summary>
public sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteLoKODbContext>
{
    public SqliteLoKODbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteLoKODbContext>().UseSqlite("Data Source=design.db").Options);
}

public sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresLoKODbContext>
{
    public PostgresLoKODbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgresLoKODbContext>().UseNpgsql("Host=localhost;Database=loko").Options);
}
