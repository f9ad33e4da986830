using System.Net;
using Grpc.AspNetCore.Server.Model;
using LoKO.Server.Api;
using LoKO.Server.Grpc;
using LoKO.Server.Security;
using LoKO.Server.Storage;
using LoKO.Server.Telemetry;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace LoKO.Server.Hosting;

/// <summary>
/// Builds the LoKO web application: REST (HTTP/1.1, on the `--urls` addresses), gRPC (a separate HTTP/2-only
/// endpoint) and the Orleans silo that hosts the tenant grains.
/// </summary>
public static class LoKOServer
{
    public const string DefaultUrls = "http://localhost:5000";

    /// <summary>Throws <see cref="InvalidSettingException"/> when a model of LoKO:Models or the device cannot be served.</summary>
    public static WebApplication Build(string[] args)
    {
        // Content root = the output folder, so appsettings.json is found whatever the working directory;
        // relative settings (LoKO:DataDirectory) still resolve against the working directory.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        var section = builder.Configuration.GetSection(LoKOOptions.Section);
        builder.Services.Configure<LoKOOptions>(section);
        var options = section.Get<LoKOOptions>() ?? new LoKOOptions();
        SiloClustering.Validate(options);
        options.BatchTenants.Validate();
        // Before anything else touches torch: a LibTorch folder must load first, and CUDA asked for must be there.
        var device = Compute.ServingDevice.Resolve(options);
        builder.Services.AddSingleton(device);

        // Kestrel without TLS cannot offer HTTP/1.1 and HTTP/2 on one endpoint (it silently serves 1.1 only):
        // REST on the --urls addresses (HTTP/1.1), gRPC on its own HTTP/2-only endpoint.
        var urls = builder.Configuration["urls"];
        if (string.IsNullOrWhiteSpace(urls)) urls = DefaultUrls;
        builder.Configuration["urls"] = ""; // the endpoints below replace --urls (without Kestrel's "overriding" warning)
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = options.MaxRequestBytes;
            foreach (var url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                Listen(kestrel, url, HttpProtocols.Http1);
            Listen(kestrel, options.GrpcUrl, HttpProtocols.Http2);
        });

        // One silo in this process, alone or in a cluster; a graceful stop deactivates every tenant grain (each
        // checkpoints as it goes). Every server serves every tenant: a grain call goes to the silo that holds it.
        builder.UseOrleans(silo => silo.UseLoKOClustering(options).AddLoKOTenants(options));
        builder.Services.AddSingleton<AdminKey>();
        builder.Services.AddSingleton<Authorizer>();
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("loko"))
            .WithMetrics(metrics => metrics
                // .NET's own meter: GC heap and committed memory, so RSS minus managed memory (native) can be watched.
                .AddMeter(LoKOMetrics.MeterName, "System.Runtime")
                .AddPrometheusExporter());

        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<ErrorMapping>();
        builder.Services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database", tags: ["ready"]);
        builder.Services.AddGrpc(grpc =>
        {
            grpc.MaxReceiveMessageSize = (int)Math.Min(options.MaxRequestBytes, int.MaxValue);
            grpc.Interceptors.Add<GrpcErrorMapping>();
            // No catch-all for unknown services: it answered any unmatched path that claimed Content-Type application/grpc,
            // REST ones too, with HTTP 200 (a gRPC client reads the 404 it gets instead as UNIMPLEMENTED).
            grpc.IgnoreUnknownServices = true;
            grpc.CompressionProviders.Clear();
            grpc.CompressionProviders.Add(new StrictGzip());
        });
        // The service's one binder: grpc-dotnet's default would bind every method a second time.
        builder.Services.RemoveAll(typeof(IServiceMethodProvider<>));
        builder.Services.AddSingleton<IServiceMethodProvider<LoKOGrpcService>, StrictMessageMethodProvider>();
        builder.Services.AddEndpointsApiExplorer();
        builder.Services.AddLoKOSwagger();

        var app = builder.Build();
        try
        {
            // A configured model that cannot be served stops the start, before anything is migrated or listened on.
            app.Services.GetRequiredService<Tenants.ModelRegistry>().LoadConfigured();
        }
        catch (InvalidSettingException)
        {
            ((IDisposable)app).Dispose();
            throw;
        }
        if (device.FallBack is { } reason)
            app.Logger.LogWarning("LoKO:Device=auto: computing on the CPU, {Reason}", reason);
        app.Logger.LogInformation("Computing on {Device}{LibTorch}; MKL: {MklKernels}", device.Name,
            Engine.Platform.LibTorchLoader.Loaded is { } lib ? $" with the LibTorch of {lib}" : "", Engine.Platform.MklVendorCheck.Outcome);
        MetadataStore.Migrate(app.Services, app.Logger);
        Tenants.TenantFreeze.SeedMetrics(app.Services);
        // Create the admin key (or generate it into the data dir) at startup, not on the first request.
        app.Services.GetRequiredService<AdminKey>();

        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseOversizeBodyRefusal(options.MaxRequestBytes);
        app.UseGrpcFrameChecks();
        app.UseSwagger();
        app.UseSwaggerUI();
        app.MapHealthChecks("/healthz", new() { Predicate = _ => false });
        app.MapHealthChecks("/readyz", new() { Predicate = c => c.Tags.Contains("ready"), ResponseWriter = ReadinessReport.WriteAsync });
        app.MapLoKORest();
        app.MapLoKOModels();
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapGrpcService<LoKOGrpcService>();
        return app;
    }

    static void Listen(KestrelServerOptions kestrel, string url, HttpProtocols protocols)
    {
        var address = BindingAddress.Parse(url);
        if (!string.Equals(address.Scheme, "http", StringComparison.OrdinalIgnoreCase))
            throw new InvalidOperationException($"'{url}': only http:// endpoints are supported (terminate TLS in front of the server)");
        void Configure(ListenOptions o) => o.Protocols = protocols;
        if (address.Host is "localhost")
            kestrel.ListenLocalhost(address.Port, Configure);
        else if (address.Host is "*" or "+" or "0.0.0.0" or "[::]")
            kestrel.ListenAnyIP(address.Port, Configure);
        else if (IPAddress.TryParse(address.Host.Trim('[', ']'), out var ip))
            kestrel.Listen(ip, address.Port, Configure);
        else
            throw new InvalidOperationException($"'{url}': the host must be localhost, an IP address or *");
    }
}
