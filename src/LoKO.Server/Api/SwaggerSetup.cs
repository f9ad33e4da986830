using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace LoKO.Server.Api;

/// <summary>Endpoint metadata: the route needs "Authorization: Bearer &lt;key&gt;" (the admin key or a tenant's).</summary>
public sealed class BearerKeyRequired
{
    public static readonly BearerKeyRequired Instance = new();
}

/// <summary>
/// The OpenAPI document (Swashbuckle): a bearer security scheme, required by every route marked
/// <see cref="BearerKeyRequired"/>, so Swagger UI's "Authorize" sends the key as <c>Authorization: Bearer &lt;key&gt;</c>.
/// </summary>
public static class SwaggerSetup
{
    public const string SchemeName = "bearer";

    public static IServiceCollection AddLoKOSwagger(this IServiceCollection services) =>
        services.AddSwaggerGen(swagger =>
        {
            swagger.SwaggerDoc("v1", new OpenApiInfo
            {
                Title = "LoKO",
                Version = "v1",
                Description = "Online fine-tuning: per-tenant LoRA adapters learned one example at a time. Send 'Authorization: Bearer <key>'.",
            });
            swagger.AddSecurityDefinition(SchemeName, new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "The admin key (tenant creation, every tenant) or a tenant's API key (its own routes). Enter the key alone: it is sent as 'Authorization: Bearer <key>'.",
            });
            swagger.OperationFilter<BearerKeyOperationFilter>();
        });

    /// <summary>Adds the bearer requirement to the operations of routes that carry <see cref="BearerKeyRequired"/>.</summary>
    sealed class BearerKeyOperationFilter : IOperationFilter
    {
        public void Apply(OpenApiOperation operation, OperationFilterContext context)
        {
            if (!context.ApiDescription.ActionDescriptor.EndpointMetadata.OfType<BearerKeyRequired>().Any()) return;
            operation.Security ??= [];
            operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SchemeName, context.Document)] = [] });
        }
    }
}
