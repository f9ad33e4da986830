using LoKO.Contracts.Validation;
using LoKO.Server.Storage;
using LoKO.Server.Telemetry;

namespace LoKO.Server.Hosting;

/// <summary>Settings bound from the "LoKO" configuration section (command line, environment, appsettings).</summary>
public sealed class LoKOOptions
{
    public const string Section = "LoKO";

    /// <summary>Holds the SQLite metadata store, checkpoint files and the generated admin key.</summary>
    public string DataDirectory { get; set; } = "./data";
    /// <summary>The metadata store: SQLite in the data directory (default) or PostgreSQL.</summary>
    public DatabaseOptions Database { get; set; } = new();
    /// <summary>Bearer key for tenant creation (and every tenant). Unset: generated once into &lt;data dir&gt;/admin.key.</summary>
    public string? AdminKey { get; set; }
    /// <summary>The HTTP/2-only endpoint that serves gRPC (REST is served on the addresses `--urls` sets).</summary>
    public string GrpcUrl { get; set; } = "http://localhost:5001";

    /// <summary>Where the engine computes: cpu (default), cuda, cuda:N, or auto (CUDA when it initialises, else the CPU, logged).</summary>
    public string Device { get; set; } = "cpu";
    /// <summary>
    /// A folder holding an existing LibTorch (e.g. a PyTorch installation's torch/lib) loaded before the first torch
    /// call instead of the packaged CPU one; unset: the LOKO_LIBTORCH_DIR environment variable, if set.
    /// </summary>
    public string? LibTorchDirectory { get; set; }

    /// <summary>Dedicated threads that run every TorchSharp computation.</summary>
    public int ComputeThreads { get; set; } = 1;
    /// <summary>LibTorch intra-op threads (process-wide); 0 leaves LibTorch's default.</summary>
    public int TorchThreads { get; set; }
    /// <summary>Learning steps of several tenants of one base model in one batched pass (off by default).</summary>
    public Compute.BatchTenantsOptions BatchTenants { get; set; } = new();
    /// <summary>Token limit of text models.</summary>
    public int MaxTokens { get; set; } = 128;
    /// <summary>Side length images are resized to for the resnet18 preset (and image models whose graph fixes none).</summary>
    public int ImageSize { get; set; } = 224;
    /// <summary>Base models offered besides the built-in presets, by name (LoKO:Models:&lt;name&gt;:Path, …); checked at startup.</summary>
    public Dictionary<string, ModelOptions> Models { get; set; } = [];

    /// <summary>Accepted but not yet applied examples per tenant before REST answers 429 (gRPC waits, then RESOURCE_EXHAUSTED).</summary>
    public int MaxQueuedExamples { get; set; } = 1000;
    /// <summary>How long a gRPC Learn stream waits for room in a full queue.</summary>
    public double QueueWaitSeconds { get; set; } = 30;
    /// <summary>Checkpoint after this many applied steps …</summary>
    public int CheckpointEverySteps { get; set; } = 500;
    /// <summary>… or when this many seconds have passed since the last one with new steps.</summary>
    public double CheckpointEverySeconds { get; set; } = 60;
    /// <summary>
    /// Checkpoints kept per tenant (0 = all). After each checkpoint, older ones (rows and files) are deleted, and so
    /// are the log entries that the oldest kept one already covers: restart and rollback to a kept version need no more.
    /// </summary>
    public int RetainCheckpoints { get; set; } = 5;
    /// <summary>
    /// When the metadata store or the data directory refuses a write: the Retry-After of the 503 answers (appends are
    /// never acknowledged then), and the first wait before a failed checkpoint is tried again (doubling, at most 5 minutes).
    /// </summary>
    public double StorageRetrySeconds { get; set; } = 5;
    /// <summary>A graceful shutdown checkpoints every tenant with steps since its last checkpoint (off: restart replays the log, as after a crash).</summary>
    public bool CheckpointOnShutdown { get; set; } = true;
    /// <summary>
    /// Memory the tenants resident on one server may hold, MiB, estimated from their parameter counts (θ, p and
    /// optimizer state, 4 bytes each, plus R and a shared head's Σ: <see cref="Tenants.TenantFootprint"/>). Past it the
    /// least recently used tenants are checkpointed and unloaded.
    /// </summary>
    public double ResidentTenantBudgetMB { get; set; } = 4096;
    /// <summary>Most tenants resident on one server at once; 0 = bounded by the memory budget only.</summary>
    public int MaxResidentTenants { get; set; }
    /// <summary>
    /// Once the resident tenants fill their budget, the least recently used ones holding this share of their memory
    /// (at least one tenant) checkpoint what they learned since their last checkpoint while idle, ahead of their
    /// eviction, so an eviction seldom writes a checkpoint beside the activation that caused it. 0 = off.
    /// </summary>
    public double ResidentWriteBackShare { get; set; } = 0.1;
    /// <summary>How long a prediction's input is kept for feedback (POST …/feedback, gRPC Feedback), seconds.</summary>
    public double PredictionTtlSeconds { get; set; } = 3600;
    /// <summary>
    /// Predictions kept for feedback per tenant; past it the oldest are dropped. 0 keeps none: predictions answer no
    /// predictionId and cost no write to the metadata store.
    /// </summary>
    public int MaxPendingPredictions { get; set; } = 10_000;
    /// <summary>Largest request body (REST) or message (gRPC), bytes.</summary>
    public long MaxRequestBytes { get; set; } = 16 * 1024 * 1024;

    public InputLimits Limits { get; set; } = new();

    /// <summary>Tenant label bound and window of the metrics exported at /metrics.</summary>
    public MetricsOptions Metrics { get; set; } = new();

    /// <summary>When a tenant's learning is frozen (accuracy collapse, repeated divergence).</summary>
    public GuardRailOptions Guard { get; set; } = new();

    /// <summary>Server-wide defaults of the per-tenant rate limits and log cap.</summary>
    public QuotaOptions Quotas { get; set; } = new();

    /// <summary>The Orleans silo that hosts the tenant grains.</summary>
    public OrleansOptions Orleans { get; set; } = new();

    /// <summary>
    /// Where checkpoint blobs are kept: files in the data directory, or rows of the metadata store. Unset: the
    /// database with postgres clustering (every node must read every checkpoint), else files.
    /// </summary>
    public CheckpointStoreKind? CheckpointStore { get; set; }

    public CheckpointStoreKind CheckpointStoreInUse => CheckpointStore
        ?? (Orleans.Clustering == OrleansClustering.Postgres ? CheckpointStoreKind.Database : CheckpointStoreKind.Files);

    public string FullDataDirectory => Path.GetFullPath(DataDirectory);
}
