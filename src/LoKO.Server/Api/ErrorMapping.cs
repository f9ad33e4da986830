using System.Globalization;
using LoKO.Contracts.Validation;
using LoKO.Server.Hosting;
using LoKO.Server.Security;
using LoKO.Server.Storage;
using LoKO.Server.Tenants;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace LoKO.Server.Api;

/// <summary>
/// Turns every client mistake into a ProblemDetails answer with the right status, and storage that refuses a write
/// into a 503 with Retry-After; anything else is a 500.
/// </summary>
public sealed class ErrorMapping(IProblemDetailsService problems, IOptions<LoKOOptions> options, ILogger<ErrorMapping> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken ct)
    {
        ProblemDetails problem;
        switch (exception)
        {
            case FieldValidationException v:
                problem = new HttpValidationProblemDetails(v.ToDictionary())
                {
                    Status = StatusCodes.Status400BadRequest,
                    Title = "The request is not valid.",
                    Detail = v.Message,
                };
                break;
            case BadHttpRequestException b:
                // A body too large is not read to its end: the connection closes after the answer, and says so.
                if (b.StatusCode == StatusCodes.Status413PayloadTooLarge && !HttpProtocol.IsHttp2(context.Request.Protocol))
                    context.Response.Headers.Connection = "close";
                problem = new ProblemDetails
                {
                    Status = b.StatusCode,
                    Title = b.StatusCode == StatusCodes.Status413PayloadTooLarge ? "The request body is too large." : "Bad request.",
                    Detail = b.Message,
                };
                break;
            case UnauthenticatedException u:
                context.Response.Headers.WWWAuthenticate = "Bearer";
                problem = new ProblemDetails { Status = StatusCodes.Status401Unauthorized, Title = "Unauthorized.", Detail = u.Message };
                break;
            case ForbiddenException f:
                problem = new ProblemDetails { Status = StatusCodes.Status403Forbidden, Title = "Forbidden.", Detail = f.Message };
                break;
            case PredictionNotFoundException p:
                // Names the field like a 400 does: the request is well formed, the prediction it names is not kept.
                problem = new HttpValidationProblemDetails(new Dictionary<string, string[]> { [PredictionNotFoundException.Field] = [p.Message] })
                {
                    Status = StatusCodes.Status404NotFound,
                    Title = "Not found.",
                    Detail = p.Message,
                };
                break;
            case TenantNotFoundException n:
                problem = new ProblemDetails { Status = StatusCodes.Status404NotFound, Title = "Not found.", Detail = n.Message };
                break;
            case TenantExistsException x:
                problem = new ProblemDetails { Status = StatusCodes.Status409Conflict, Title = "Conflict.", Detail = x.Message };
                break;
            case QueueFullException q:
                context.Response.Headers.RetryAfter = Math.Ceiling(q.RetryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
                problem = new ProblemDetails { Status = StatusCodes.Status429TooManyRequests, Title = "Too many requests.", Detail = q.Message };
                break;
            case QuotaExceededException e:
                context.Response.Headers.RetryAfter = TenantRateLimits.RetryAfterSeconds(e.RetryAfter).ToString(CultureInfo.InvariantCulture);
                // Names the quota like a 400 names a field: the request is well formed, the tenant's quota refuses it now.
                problem = new HttpValidationProblemDetails(new Dictionary<string, string[]> { [e.Quota] = [e.Message] })
                {
                    Status = StatusCodes.Status429TooManyRequests,
                    Title = "Too many requests.",
                    Detail = e.Message,
                };
                break;
            case TenantNotFrozenException n:
                problem = new ProblemDetails { Status = StatusCodes.Status409Conflict, Title = "Conflict.", Detail = n.Message };
                break;
            case TenantModelException m:
                problem = new ProblemDetails { Status = StatusCodes.Status409Conflict, Title = "Conflict.", Detail = m.Message };
                break;
            case InvalidOperationException i when i.Message.Contains("warm-up", StringComparison.Ordinal):
                problem = new ProblemDetails { Status = StatusCodes.Status409Conflict, Title = "Conflict.", Detail = i.Message };
                break;
            case StorageUnavailableException u:
                problem = Unavailable(context, u.RetryAfter, u.Message);
                break;
            // The client went away (a body it reset reads as an IOException, which is no storage fault).
            case OperationCanceledException or IOException when context.RequestAborted.IsCancellationRequested:
                return true;
            case var e when ClusterFaults.IsClusterFault(e):
                logger.LogWarning(e, "Node unreachable on {Method} {Path}", context.Request.Method, context.Request.Path);
                problem = Unavailable(context, ClusterFaults.RetryAfter, ClusterFaults.Message);
                break;
            case var e when StorageFaults.IsStorageFault(e):
                logger.LogWarning(e, "Storage refused {Method} {Path}", context.Request.Method, context.Request.Path);
                problem = Unavailable(context, TimeSpan.FromSeconds(options.Value.StorageRetrySeconds),
                    "the metadata store or data directory refused the operation; retry later");
                break;
            default:
                logger.LogError(exception, "Unhandled error on {Method} {Path}", context.Request.Method, context.Request.Path);
                problem = new ProblemDetails { Status = StatusCodes.Status500InternalServerError, Title = "Internal server error." };
                break;
        }
        context.Response.StatusCode = problem.Status!.Value;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem, Exception = exception });
    }

    static ProblemDetails Unavailable(HttpContext context, TimeSpan retryAfter, string detail)
    {
        context.Response.Headers.RetryAfter = Math.Max(1, Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return new ProblemDetails { Status = StatusCodes.Status503ServiceUnavailable, Title = "Service unavailable.", Detail = detail };
    }
}
