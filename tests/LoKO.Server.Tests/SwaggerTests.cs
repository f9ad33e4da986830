using System.Text.Json;

namespace LoKO.Server.Tests;

[Collection(SharedServerCollection.Name)]
public class SwaggerTests(SharedServer shared)
{
    LoKOTestServer S => shared.Server;

    /// <summary>Swagger UI's "Authorize" sends what the document declares: an HTTP bearer scheme, required by every tenant route.</summary>
    [Fact]
    public async Task TheDocumentDeclaresABearerSchemeThatEveryTenantRouteRequires()
    {
        using var spec = JsonDocument.Parse(await S.Http.GetStringAsync("/swagger/v1/swagger.json"));
        var root = spec.RootElement;
        var schemes = root.GetProperty("components").GetProperty("securitySchemes");
        var bearer = schemes.GetProperty("bearer");
        Assert.Equal("http", bearer.GetProperty("type").GetString());
        Assert.Equal("bearer", bearer.GetProperty("scheme").GetString());

        var operations = root.GetProperty("paths").EnumerateObject()
            .Where(p => p.Name.StartsWith("/v1/tenants", StringComparison.Ordinal))
            .SelectMany(p => p.Value.EnumerateObject().Select(o => (Route: $"{o.Name.ToUpperInvariant()} {p.Name}", Operation: o.Value)))
            .ToList();
        Assert.Contains(operations, o => o.Route == "POST /v1/tenants/{tenantId}/feedback");
        Assert.Contains(operations, o => o.Route == "GET /v1/tenants/{tenantId}/noise");
        Assert.True(operations.Count >= 11, $"only {operations.Count} tenant operations: {string.Join(", ", operations.Select(o => o.Route))}");
        foreach (var (route, operation) in operations)
        {
            Assert.True(operation.TryGetProperty("security", out var security), $"{route} declares no security");
            Assert.Contains(security.EnumerateArray(), requirement => requirement.TryGetProperty("bearer", out _));
        }
    }
}
