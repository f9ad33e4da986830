using System.Text.Json;
using LoKO.Engine.Platform;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LoKO.Server.Hosting;

/// <summary>The body of /readyz: the overall status, each check's, and the device that serves.</summary>
public static class ReadinessReport
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static Task WriteAsync(HttpContext context, HealthReport report)
    {
        var device = context.RequestServices.GetRequiredService<TorchDevice>();
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            status = report.Status.ToString(),
            device = device.Name,
            libTorch = LibTorchLoader.Loaded,
            checks = report.Entries.ToDictionary(e => e.Key, e => e.Value.Status.ToString()),
        }, Json));
    }
}
