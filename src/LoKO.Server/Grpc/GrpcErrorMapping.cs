using System.Globalization;
using Grpc.Core;
using Grpc.Core.Interceptors;
using LoKO.Contracts.Validation;
using LoKO.Server.Hosting;
using LoKO.Server.Security;
using LoKO.Server.Storage;
using LoKO.Server.Tenants;
using Microsoft.Extensions.Options;

namespace LoKO.Server.Grpc;

/// <summary>Maps the service's exceptions onto gRPC status codes (the REST side's <see cref="Api.ErrorMapping"/>).</summary>
public sealed class GrpcErrorMapping(IOptions<LoKOOptions> options, ILogger<GrpcErrorMapping> logger) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try { return await continuation(request, context); }
        catch (Exception e) when (e is not RpcException) { throw Map(e, context); }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try { await continuation(requestStream, responseStream, context); }
        catch (Exception e) when (e is not RpcException) { throw Map(e, context); }
    }

    RpcException Map(Exception e, ServerCallContext context)
    {
        var (code, message) = e switch
        {
            FieldValidationException v => (StatusCode.InvalidArgument, v.Message),
            UnauthenticatedException u => (StatusCode.Unauthenticated, u.Message),
            ForbiddenException f => (StatusCode.PermissionDenied, f.Message),
            TenantNotFoundException n => (StatusCode.NotFound, n.Message),
            PredictionNotFoundException p => (StatusCode.NotFound, p.Message),
            TenantExistsException x => (StatusCode.AlreadyExists, x.Message),
            QueueFullException q => (StatusCode.ResourceExhausted, q.Message),
            QuotaExceededException qx => (StatusCode.ResourceExhausted, qx.Message),
            TenantNotFrozenException n => (StatusCode.FailedPrecondition, n.Message),
            TenantModelException m => (StatusCode.FailedPrecondition, m.Message),
            InvalidOperationException i when i.Message.Contains("warm-up", StringComparison.Ordinal) => (StatusCode.FailedPrecondition, i.Message),
            StorageUnavailableException u => (StatusCode.Unavailable, u.Message),
            // A stream the client reset reads as an IOException: no storage fault.
            OperationCanceledException or IOException when context.CancellationToken.IsCancellationRequested => (StatusCode.Cancelled, "the call was cancelled"),
            _ when ClusterFaults.IsClusterFault(e) => (StatusCode.Unavailable, ClusterFaults.Message),
            _ when StorageFaults.IsStorageFault(e) => (StatusCode.Unavailable, "the metadata store or data directory refused the operation; retry later"),
            _ => (StatusCode.Internal, "internal error"),
        };
        if (code == StatusCode.Internal) logger.LogError(e, "Unhandled error in {Method}", context.Method);
        if (code == StatusCode.Unavailable && e is not StorageUnavailableException) logger.LogWarning(e, "Storage refused {Method}", context.Method);
        var trailers = new Metadata();
        if (e is FieldValidationException fv) trailers.Add("field", fv.Errors[0].Field);
        if (e is PredictionNotFoundException) trailers.Add("field", PredictionNotFoundException.Field);
        if (e is QueueFullException qf) trailers.Add("retry-after", Math.Ceiling(qf.RetryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture));
        if (code == StatusCode.Unavailable)
        {
            var retry = e is StorageUnavailableException su ? su.RetryAfter
                : ClusterFaults.IsClusterFault(e) ? ClusterFaults.RetryAfter : TimeSpan.FromSeconds(options.Value.StorageRetrySeconds);
            trailers.Add("retry-after", Math.Max(1, Math.Ceiling(retry.TotalSeconds)).ToString(CultureInfo.InvariantCulture));
        }
        if (e is QuotaExceededException quota)
        {
            trailers.Add("quota", quota.Quota);
            trailers.Add("retry-after", TenantRateLimits.RetryAfterSeconds(quota.RetryAfter).ToString(CultureInfo.InvariantCulture));
        }
        return new RpcException(new Status(code, message.Length > MaxDetail ? message[..MaxDetail] + "…" : message), trailers);
    }

    /// <summary>
    /// The longest status detail sent: it travels percent-encoded in a header, and a client refuses headers past its limit
    /// (64 KiB for .NET's), so an error quoting a huge field would never reach it.
    /// </summary>
    const int MaxDetail = 1024;
}
