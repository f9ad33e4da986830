using System.Text.Json;
using LoKO.Engine.Platform;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LoKO.Server.Hosting;

/// <summary>
/// The body of /readyz: the overall status, each check's, the device that serves, which kernels MKL took and the
/// cross-tenant batching setting (null while off), so that a client knows what it measures.
/// </summary>
public static class ReadinessReport
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static Task WriteAsync(HttpContext context, HealthReport report)
    {
        var device = context.RequestServices.GetRequiredService<TorchDevice>();
        var batching = context.RequestServices.GetRequiredService<IOptions<LoKOOptions>>().Value.BatchTenants;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            status = report.Status.ToString(),
            device = device.Name,
            libTorch = LibTorchLoader.Loaded,
            mklKernels = MklVendorCheck.Outcome,
            batchTenants = batching.Enabled ? new { maxTenants = batching.MaxTenants, maxWaitMs = batching.MaxWaitMs } : null,
            checks = report.Entries.ToDictionary(e => e.Key, e => e.Value.Status.ToString()),
        }, Json));
    }
}
