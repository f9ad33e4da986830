using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using LoKO.Contracts.Rest;
using LoKO.Contracts.Validation;
using LoKO.Engine.Checkpoints;
using LoKO.Engine.Lora;
using LoKO.Engine.Models;
using LoKO.Engine.Optimizers;
using LoKO.Server.Compute;
using LoKO.Server.Hosting;
using LoKO.Server.Storage;
using LoKO.Server.Telemetry;
using Microsoft.EntityFrameworkCore;
using static TorchSharp.torch;

namespace LoKO.Server.Tenants;

/// <summary>Services every tenant actor uses.</summary>
public sealed record TenantServices(
    IDbContextFactory<LoKODbContext> Db,
    ComputeExecutor Compute,
    ModelRegistry Models,
    ICheckpointStore Checkpoints,
    LoKOOptions Options,
    LoKOMetrics Metrics,
    ILogger Logger);
