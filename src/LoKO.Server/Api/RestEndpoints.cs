using System.Text.Json;
using LoKO.Contracts.Rest;
using LoKO.Contracts.Validation;
using LoKO.Server.Security;
using LoKO.Server.Tenants;

namespace LoKO.Server.Api;

/// <summary>The REST API (minimal APIs). Every client mistake is a ProblemDetails answer (see <see cref="ErrorMapping"/>).</summary>
public static class RestEndpoints
{
    public const int MaxBatch = 1000;

    public static void MapLoKORest(this WebApplication app)
    {
        // Every route takes a bearer key (checked in the handler; the metadata tells the OpenAPI document).
        var v1 = app.MapGroup("/v1/tenants").WithTags("tenants").WithMetadata(BearerKeyRequired.Instance);

        v1.MapPost("/", async (HttpContext http, TenantService tenants, Authorizer auth, CancellationToken ct) =>
        {
            await auth.RequireAdminAsync(Header(http), ct);
            var request = await JsonBody.ReadAsync<CreateTenantRequest>(http.Request, ct);
            var created = await tenants.CreateAsync(request, ct);
            return Results.Created($"/v1/tenants/{created.TenantId}", created);
        })
        .Accepts<CreateTenantRequest>("application/json")
        .Produces<CreateTenantResponse>(StatusCodes.Status201Created)
        .ProducesValidationProblem()
        .WithSummary("Create a tenant (admin key). The answer holds the tenant's API key, shown once.");

        v1.MapGet("/{tenantId}", async (string tenantId, HttpContext http, TenantService tenants, Authorizer auth, CancellationToken ct) =>
        {
            await auth.RequireTenantAsync(Header(http), tenantId, ct);
            return Results.Ok(await tenants.GetAsync(tenantId));
        })
        .Produces<TenantResponse>()
        .WithSummary("A tenant's settings and counters.");

        v1.MapDelete("/{tenantId}", async (string tenantId, HttpContext http, TenantService tenants, Authorizer auth, CancellationToken ct) =>
        {
            await auth.RequireTenantAsync(Header(http), tenantId, ct);
            await tenants.DeleteAsync(tenantId, ct);
            return Results.NoContent();
        })
        .WithSummary("Delete a tenant, its log and its checkpoints.");

        v1.MapPost("/{tenantId}/labels", async (string tenantId, HttpContext http, TenantService tenants, Authorizer auth, CancellationToken ct) =>
        {
            await auth.RequireTenantAsync(Header(http), tenantId, ct);
            var request = await JsonBody.ReadAsync<AddLabelsRequest>(http.Request, ct);
            return Results.Ok(await tenants.AddLabelsAsync(tenantId, request.Labels));
        })
        .Accepts<AddLabelsRequest>("application/json")
        .Produces<TenantResponse>()
        .ProducesValidationProblem()
        .WithSummary("Add labels to the tenant: its head gains their classes, nothing learned is lost; examples of them are accepted at once.");

        v1.MapPost("/{tenantId}/examples", async (string tenantId, HttpContext http, TenantService tenants, Authorizer auth, CancellationToken ct) =>
        {
            await auth.RequireTenantAsync(Header(http), tenantId, ct);
            var body = await JsonBody.ReadElementAsync(http.Request, ct);
            bool batch = body.ValueKind == JsonValueKind.Array;
            var requests = batch
                ? body.EnumerateArray().Select((e, i) => JsonBody.Convert<ExampleRequest>(e, $"[{i}].")).ToList()
                : [JsonBody.Convert<ExampleRequest>(body, "")];
            if (requests.Count == 0) throw new FieldValidationException("body", "the batch must hold at least one example");
            if (requests.Count > MaxBatch) throw new FieldValidationException("body", $"a batch holds at most {MaxBatch} examples");

            var outcomes = await tenants.AppendAsync(tenantId, modality => requests.Select((r, i) =>
            {
                var prefix = batch ? $"[{i}]." : "";
                var errors = new List<FieldError>();
                var input = RequestValidator.ValidateInput(r, modality, tenants.Limits, errors, prefix);
                return new TenantService.IncomingExample(input, r.Label, r.ExampleId, prefix + (r.Pixels is not null ? "pixels" : "imageBase64"), errors);
            }).ToList(), waitForRoom: false, ct);

            return batch
                ? Results.Accepted(value: new ExamplesAccepted(outcomes.Select(o => o.Sequence).ToList()))
                : Results.Accepted(value: new ExampleAccepted(outcomes[0].Sequence));
        })
        .Accepts<ExampleRequest>("application/json")
        .Produces<ExampleAccepted>(StatusCodes.Status202Accepted)
        .Produces<ExamplesAccepted>(StatusCodes.Status202Accepted)
        .ProducesValidationProblem()
        .WithSummary("Append one labeled example (or a JSON array of them) to the tenant's log; 202 once it is durable.");

        v1.MapPost("/{tenantId}/predict", async (string tenantId, HttpContext http, TenantService tenants, Authorizer auth, CancellationToken ct) =>
        {
            await auth.RequireTenantAsync(Header(http), tenantId, ct);
            var request = await JsonBody.ReadAsync<PredictRequest>(http.Request, ct);
            var inputField = request.Pixels is not null ? "pixels" : "imageBase64";
            var result = await tenants.PredictAsync(tenantId, (modality, errors) => RequestValidator.ValidateInput(request, modality, tenants.Limits, errors), inputField);
            return Results.Ok(new PredictResponse(result.Label, result.Probabilities, result.AdapterVersion, result.PredictionId));
        })
        .Accepts<PredictRequest>("application/json")
        .Produces<PredictResponse>()
        .ProducesValidationProblem()
        .WithSummary("Predict with the tenant's current adapter; the answer's predictionId takes the label later (feedback).");

        v1.MapPost("/{tenantId}/feedback", async (string tenantId, HttpContext http, TenantService tenants, Authorizer auth, CancellationToken ct) =>
        {
            await auth.RequireTenantAsync(Header(http), tenantId, ct);
            var request = await JsonBody.ReadAsync<FeedbackRequest>(http.Request, ct);
            return Results.Accepted(value: await tenants.FeedbackAsync(tenantId, request.PredictionId, request.Label, ct));
        })
        .Accepts<FeedbackRequest>("application/json")
        .Produces<FeedbackAccepted>(StatusCodes.Status202Accepted)
        .ProducesValidationProblem()
        .ProducesValidationProblem(StatusCodes.Status404NotFound)
        .WithSummary("The label of an earlier prediction: logged once as an example (a repeat answers the original sequence); 202 once it is durable.");

        v1.MapGet("/{tenantId}/noise", async (string tenantId, HttpContext http, TenantService tenants, Authorizer auth, CancellationToken ct) =>
        {
            await auth.RequireTenantAsync(Header(http), tenantId, ct);
            return Results.Ok(await tenants.NoiseHistoryAsync(tenantId, ct));
        })
        .Produces<IReadOnlyList<NoiseEstimateResponse>>()
        .WithSummary("The LoKO filter's noise history, one row per checkpoint, oldest first: trace and diagonal of R, mean of p.");

        v1.MapGet("/{tenantId}/checkpoints", async (string tenantId, HttpContext http, TenantService tenants, Authorizer auth, CancellationToken ct) =>
        {
            await auth.RequireTenantAsync(Header(http), tenantId, ct);
            return Results.Ok(await tenants.ListCheckpointsAsync(tenantId, ct));
        })
        .Produces<IReadOnlyList<CheckpointResponse>>()
        .WithSummary("The tenant's checkpoints, oldest first.");

        v1.MapPost("/{tenantId}/checkpoints", async (string tenantId, HttpContext http, TenantService tenants, Authorizer auth, CancellationToken ct) =>
        {
            await auth.RequireTenantAsync(Header(http), tenantId, ct);
            var checkpoint = await tenants.CheckpointAsync(tenantId);
            return Results.Created($"/v1/tenants/{tenantId}/checkpoints/{checkpoint.Version}", checkpoint);
        })
        .Produces<CheckpointResponse>(StatusCodes.Status201Created)
        .WithSummary("Write a checkpoint now (after the examples already learned).");

        v1.MapPost("/{tenantId}/rollback", async (string tenantId, HttpContext http, TenantService tenants, Authorizer auth, CancellationToken ct) =>
        {
            await auth.RequireTenantAsync(Header(http), tenantId, ct);
            var request = await JsonBody.ReadAsync<RollbackRequest>(http.Request, ct);
            return Results.Ok(await tenants.RollbackAsync(tenantId, request.Version));
        })
        .Accepts<RollbackRequest>("application/json")
        .Produces<TenantResponse>()
        .ProducesValidationProblem()
        .WithSummary("Return to a checkpoint; later log entries are marked not applied and never learned.");

        v1.MapPost("/{tenantId}/resume", async (string tenantId, HttpContext http, TenantService tenants, Authorizer auth, CancellationToken ct) =>
        {
            await auth.RequireTenantAsync(Header(http), tenantId, ct);
            return Results.Ok(await tenants.ResumeAsync(tenantId));
        })
        .Produces<TenantResponse>()
        .ProducesProblem(StatusCodes.Status409Conflict)
        .WithSummary("End a freeze by the guard rails: the log after the checkpoint it returned to is learned again, in order, once.");

        v1.MapGet("/{tenantId}/adapter", async (string tenantId, string? format, HttpContext http, TenantService tenants, Authorizer auth, CancellationToken ct) =>
        {
            await auth.RequireTenantAsync(Header(http), tenantId, ct);
            bool peft = format switch
            {
                null or "safetensors" => false,
                "peft" => true,
                _ => throw new FieldValidationException("format", $"must be \"safetensors\" (default) or \"peft\", not \"{format}\""),
            };
            byte[] file;
            long version;
            if (peft) (file, version) = await tenants.ExportPeftAsync(tenantId);
            else (file, version) = await tenants.ExportAsync(tenantId);
            http.Response.Headers["X-Adapter-Version"] = version.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return peft
                ? Results.File(file, "application/zip", $"{tenantId}-peft.zip")
                : Results.File(file, "application/octet-stream", $"{tenantId}-adapter.safetensors");
        })
        .Produces<byte[]>(StatusCodes.Status200OK, "application/octet-stream", "application/zip")
        .ProducesValidationProblem()
        .WithSummary("The adapter: θ, LoRA pieces and head as a safetensors file, or with format=peft a zip of a Hugging Face PEFT LoRA adapter.");
    }

    static string? Header(HttpContext http) => http.Request.Headers.Authorization.FirstOrDefault();
}
