using Microsoft.EntityFrameworkCore;

namespace LoKO.Server.Storage;

/// <summary>The shared store for several nodes: PostgreSQL through Npgsql (migrations in Storage/Migrations/Postgres).</summary>
public sealed class PostgresLoKODbContext(DbContextOptions<PostgresLoKODbContext> options) : LoKODbContext(options);
