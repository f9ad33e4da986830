using LoKO.Contracts.Rest;
using LoKO.Server.Security;
using LoKO.Server.Tenants;

namespace LoKO.Server.Api;

/// <summary>GET /v1/models: the base models a tenant's preset may name.</summary>
public static class ModelEndpoints
{
    public static void MapLoKOModels(this WebApplication app)
    {
        app.MapGet("/v1/models", async (HttpContext http, ModelRegistry models, Authorizer auth, CancellationToken ct) =>
        {
            await auth.AuthenticateAsync(http.Request.Headers.Authorization.FirstOrDefault(), ct);
            return Results.Ok(await models.DescribeAsync());
        })
        .WithTags("models")
        .WithMetadata(BearerKeyRequired.Instance)
        .Produces<IReadOnlyList<ModelResponse>>()
        .WithSummary("The base models this server offers (built-in presets and LoKO:Models), each with its LoRA sites; any valid key.");
    }
}
