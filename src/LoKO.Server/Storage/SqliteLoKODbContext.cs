using Microsoft.EntityFrameworkCore;

namespace LoKO.Server.Storage;

/// <summary>The embedded store: a SQLite file in the data directory (migrations in Storage/Migrations/Sqlite).</summary>
public sealed class SqliteLoKODbContext(DbContextOptions<SqliteLoKODbContext> options) : LoKODbContext(options);
