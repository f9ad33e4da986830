using Microsoft.EntityFrameworkCore;

namespace LoKO.Server.Storage;

/// <summary>
/// The metadata store: tenants, the example log, the idempotency keys, the checkpoint index, the noise history and the
/// predictions kept for feedback, the tenants' freeze and resume events, and (clustered) the checkpoint blobs.
/// One model for every provider; each provider has its own subclass so that its migrations (which differ in
/// column types) live apart, in Storage/Migrations/&lt;provider&gt;.
/// </summary>
public abstract class LoKODbContext(DbContextOptions options) : DbContext(options)
{
    public DbSet<TenantRecord> Tenants => Set<TenantRecord>();
    public DbSet<ExampleRecord> Examples => Set<ExampleRecord>();
    public DbSet<ExampleIdRecord> ExampleIds => Set<ExampleIdRecord>();
    public DbSet<CheckpointRecord> Checkpoints => Set<CheckpointRecord>();
    public DbSet<NoiseRecord> NoiseHistory => Set<NoiseRecord>();
    public DbSet<PendingPredictionRecord> PendingPredictions => Set<PendingPredictionRecord>();
    public DbSet<TenantEventRecord> TenantEvents => Set<TenantEventRecord>();
    public DbSet<CheckpointBlobRecord> CheckpointBlobs => Set<CheckpointBlobRecord>();

    protected override void ConfigureConventions(ModelConfigurationBuilder conventions) =>
        conventions.Properties<DateTime>().HaveConversion<UtcDateTimeConverter>();

    protected override void OnModelCreating(ModelBuilder model)
    {
        model.Entity<TenantRecord>(e =>
        {
            e.ToTable("tenants");
            e.HasKey(t => t.TenantId);
            e.Property(t => t.TenantId).HasMaxLength(64);
            e.Property(t => t.ModelSha256).HasMaxLength(64);
            e.HasIndex(t => t.ApiKeyHash).IsUnique();
        });
        model.Entity<ExampleRecord>(e =>
        {
            e.ToTable("examples");
            e.HasIndex(x => new { x.TenantId, x.Sequence }).IsUnique();
            e.HasOne<TenantRecord>().WithMany().HasForeignKey(x => x.TenantId).OnDelete(DeleteBehavior.Cascade);
        });
        model.Entity<ExampleIdRecord>(e =>
        {
            e.ToTable("example_ids");
            e.HasKey(x => new { x.TenantId, x.ExampleId });
            e.HasOne<TenantRecord>().WithMany().HasForeignKey(x => x.TenantId).OnDelete(DeleteBehavior.Cascade);
        });
        model.Entity<CheckpointRecord>(e =>
        {
            e.ToTable("checkpoints");
            e.Property(x => x.Sha256).HasMaxLength(64);
            e.HasIndex(x => new { x.TenantId, x.Version }).IsUnique();
            e.HasOne<TenantRecord>().WithMany().HasForeignKey(x => x.TenantId).OnDelete(DeleteBehavior.Cascade);
        });
        model.Entity<NoiseRecord>(e =>
        {
            e.ToTable("noise_history");
            e.HasIndex(x => new { x.TenantId, x.Version }).IsUnique();
            e.HasOne<TenantRecord>().WithMany().HasForeignKey(x => x.TenantId).OnDelete(DeleteBehavior.Cascade);
        });
        model.Entity<PendingPredictionRecord>(e =>
        {
            e.ToTable("pending_predictions");
            e.Property(x => x.PredictionId).HasMaxLength(64);
            e.HasIndex(x => new { x.TenantId, x.PredictionId }).IsUnique();
            // The bound drops a tenant's oldest rows; the sweep its expired ones.
            e.HasIndex(x => new { x.TenantId, x.Id });
            e.HasIndex(x => new { x.TenantId, x.ExpiresUtc });
            e.HasOne<TenantRecord>().WithMany().HasForeignKey(x => x.TenantId).OnDelete(DeleteBehavior.Cascade);
        });
        model.Entity<TenantEventRecord>(e =>
        {
            e.ToTable("tenant_events");
            e.Property(x => x.Kind).HasMaxLength(16);
            e.HasIndex(x => new { x.TenantId, x.Id });
            e.HasOne<TenantRecord>().WithMany().HasForeignKey(x => x.TenantId).OnDelete(DeleteBehavior.Cascade);
        });
        model.Entity<CheckpointBlobRecord>(e =>
        {
            e.ToTable("checkpoint_blobs");
            e.HasKey(x => x.Name);
            e.HasIndex(x => new { x.TenantId, x.Version });
            e.HasOne<TenantRecord>().WithMany().HasForeignKey(x => x.TenantId).OnDelete(DeleteBehavior.Cascade);
        });
    }
}
