using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace LoKO.Server.Tests.Fuzzing;

/// <summary>One REST route as the server maps it: an HTTP method ("*" when the route takes any) and its pattern.</summary>
public sealed record RestRoute(string Method, string Pattern)
{
    public string Key => $"{Method} {Pattern}";

    /// <summary>
    /// Every route the running server maps, read from its endpoint data source, so that a route added later is fuzzed
    /// (or fails the test for want of a generator). gRPC's endpoints are left out: its methods come from the service descriptor.
    /// </summary>
    public static IReadOnlyList<RestRoute> Discover(IServiceProvider services) =>
        services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            // gRPC's method endpoints and its catch-alls for unknown methods and services (named "gRPC - …").
            .Where(e => e.Metadata.GetMetadata<GrpcMethodMetadata>() is null && e.DisplayName?.StartsWith("gRPC - ", StringComparison.Ordinal) != true)
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["*"])
                .Select(method => new RestRoute(method, "/" + (e.RoutePattern.RawText ?? "").Trim('/'))))
            .Distinct()
            .OrderBy(r => r.Key, StringComparer.Ordinal)
            .ToList();
}
