using Microsoft.EntityFrameworkCore;

namespace LoKO.Server.Storage;

/// <summary>The metadata store: tenants, the example log, the checkpoint index and the noise history.</summary>
public sealed class LoKODbContext(DbContextOptions<LoKODbContext> options) : DbContext(options)
{
    public DbSet<TenantRecord> Tenants => Set<TenantRecord>();
    public DbSet<ExampleRecord> Examples => Set<ExampleRecord>();
    public DbSet<CheckpointRecord> Checkpoints => Set<CheckpointRecord>();
    public DbSet<NoiseRecord> NoiseHistory => Set<NoiseRecord>();

    protected override void OnModelCreating(ModelBuilder model)
    {
        model.Entity<TenantRecord>(e =>
        {
            e.ToTable("tenants");
            e.HasKey(t => t.TenantId);
            e.Property(t => t.TenantId).HasMaxLength(64);
            e.HasIndex(t => t.ApiKeyHash).IsUnique();
        });
        model.Entity<ExampleRecord>(e =>
        {
            e.ToTable("examples");
            e.HasIndex(x => new { x.TenantId, x.Sequence }).IsUnique();
            e.HasIndex(x => new { x.TenantId, x.ExampleId }).IsUnique().HasFilter("\"ExampleId\" IS NOT NULL");
            e.HasOne<TenantRecord>().WithMany().HasForeignKey(x => x.TenantId).OnDelete(DeleteBehavior.Cascade);
        });
        model.Entity<CheckpointRecord>(e =>
        {
            e.ToTable("checkpoints");
            e.HasIndex(x => new { x.TenantId, x.Version }).IsUnique();
            e.HasOne<TenantRecord>().WithMany().HasForeignKey(x => x.TenantId).OnDelete(DeleteBehavior.Cascade);
        });
        model.Entity<NoiseRecord>(e =>
        {
            e.ToTable("noise_history");
            e.HasIndex(x => new { x.TenantId, x.Version }).IsUnique();
            e.HasOne<TenantRecord>().WithMany().HasForeignKey(x => x.TenantId).OnDelete(DeleteBehavior.Cascade);
        });
    }
}
