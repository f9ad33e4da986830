using System.Globalization;
using System.Threading.Channels;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;
using LoKO.Contracts.Validation;
using LoKO.Server.Hosting;
using LoKO.Server.Security;
using LoKO.Server.Storage;
using LoKO.Server.Tenants;
using Rest = LoKO.Contracts.Rest;
using Microsoft.Extensions.Options;
using V1 = LoKO.Contracts.V1;

namespace LoKO.Server.Grpc;

/// <summary>The gRPC API: the same operations and validation as REST, on the HTTP/2 endpoint.</summary>
public sealed class LoKOGrpcService(TenantService tenants, ModelRegistry models, Authorizer auth, IOptions<LoKOOptions> options) : V1.LoKO.LoKOBase
{
    static string? Header(ServerCallContext context) => context.RequestHeaders.GetValue("authorization");

    public override async Task<V1.ModelList> ListModels(V1.ListModelsRequest request, ServerCallContext context)
    {
        await auth.AuthenticateAsync(Header(context), context.CancellationToken);
        var list = new V1.ModelList();
        list.Models.AddRange((await models.DescribeAsync()).Select(ModelMessages.ToProto));
        return list;
    }

    public override async Task<V1.CreateTenantResponse> CreateTenant(V1.CreateTenantRequest request, ServerCallContext context)
    {
        await auth.RequireAdminAsync(Header(context), context.CancellationToken);
        var created = await tenants.CreateAsync(new Rest.CreateTenantRequest
        {
            TenantId = request.TenantId,
            Preset = request.Preset,
            Labels = request.Labels.ToList(),
            Optimizer = request.Optimizer.Length == 0 ? null : request.Optimizer,
            Lora = request.Lora is null ? null : new Rest.LoraSettings
            {
                Rank = request.Lora.Rank == 0 ? null : request.Lora.Rank,
                Alpha = request.Lora.Alpha == 0 ? null : request.Lora.Alpha,
                Targets = request.Lora.Targets.Count == 0 ? null : request.Lora.Targets.ToList(),
            },
            Filter = request.Filter is null ? null : FromProto(request.Filter),
            Seed = request.HasSeed ? request.Seed : null,
            Quotas = request.Quotas is null ? null : new Rest.TenantQuotas
            {
                ExamplesPerSecond = request.Quotas.HasExamplesPerSecond ? request.Quotas.ExamplesPerSecond : null,
                PredictionsPerSecond = request.Quotas.HasPredictionsPerSecond ? request.Quotas.PredictionsPerSecond : null,
                MaxLogEntries = request.Quotas.HasMaxLogEntries ? request.Quotas.MaxLogEntries : null,
            },
            Adapter = request.Adapter.IsEmpty ? null : request.Adapter.ToByteArray(),
        }, context.CancellationToken);
        return new V1.CreateTenantResponse { TenantId = created.TenantId, ApiKey = created.ApiKey };
    }

    public override async Task<V1.Tenant> GetTenant(V1.TenantRef request, ServerCallContext context)
    {
        await auth.RequireTenantAsync(Header(context), request.TenantId, context.CancellationToken);
        return ToProto(await tenants.GetAsync(request.TenantId));
    }

    public override async Task<V1.DeleteTenantResponse> DeleteTenant(V1.TenantRef request, ServerCallContext context)
    {
        await auth.RequireTenantAsync(Header(context), request.TenantId, context.CancellationToken);
        await tenants.DeleteAsync(request.TenantId, context.CancellationToken);
        return new V1.DeleteTenantResponse();
    }

    /// <summary>
    /// Examples are read ahead into a bounded buffer; whatever has arrived while the previous commit ran is
    /// appended in ONE durable commit (group commit), then acknowledged in order. An idle stream commits each
    /// example alone, a busy one amortises the fsync over up to <see cref="MaxGroup"/> examples. The buffer and
    /// HTTP/2 flow control pace the client. A full queue waits for room (up to a setting), then ends the call
    /// with RESOURCE_EXHAUSTED. Invalid examples get an INVALID Ack and the stream goes on.
    /// </summary>
    public override async Task Learn(IAsyncStreamReader<V1.Example> requestStream, IServerStreamWriter<V1.Ack> responseStream, ServerCallContext context)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        var ct = stop.Token;
        int group = Math.Max(1, Math.Min(MaxGroup, options.Value.MaxQueuedExamples));
        var buffer = Channel.CreateBounded<V1.Example>(new BoundedChannelOptions(2 * group) { SingleReader = true, SingleWriter = true });
        var reader = Task.Run(async () =>
        {
            try
            {
                await foreach (var example in requestStream.ReadAllAsync(ct)) await buffer.Writer.WriteAsync(example, ct);
                buffer.Writer.TryComplete();
            }
            catch (Exception e) when (e is not RpcException and not OperationCanceledException && !ct.IsCancellationRequested)
            {
                // The client's stream cannot be read (its framing or transport broke): its mistake, never a storage fault.
                buffer.Writer.TryComplete(MalformedRequest.Error($"the request stream cannot be read: {e.Message}"));
            }
            catch (Exception e)
            {
                buffer.Writer.TryComplete(e);
            }
        }, CancellationToken.None);

        try
        {
            string? tenantId = null;
            var batch = new List<V1.Example>(group);
            while (await buffer.Reader.WaitToReadAsync(ct))
            {
                batch.Clear();
                while (batch.Count < group && buffer.Reader.TryRead(out var example)) batch.Add(example);
                if (tenantId is null)
                {
                    await auth.RequireTenantAsync(Header(context), batch[0].TenantId, ct);
                    tenantId = batch[0].TenantId;
                }
                // A stream serves one tenant: what came before a stray tenant id is still appended and acknowledged.
                int stray = batch.FindIndex(e => !string.Equals(e.TenantId, tenantId, StringComparison.Ordinal));
                if (stray >= 0) batch.RemoveRange(stray, batch.Count - stray);
                await AppendAndAcknowledgeAsync(tenantId, batch, responseStream, ct);
                if (stray >= 0) throw new FieldValidationException("tenant_id", "every example of a stream must name the same tenant");
            }
        }
        finally
        {
            stop.Cancel();
            try { await reader; } catch (OperationCanceledException) { }
        }
    }

    /// <summary>The most examples one group commit of a Learn stream takes.</summary>
    public const int MaxGroup = 64;

    async Task AppendAndAcknowledgeAsync(string tenantId, List<V1.Example> batch, IServerStreamWriter<V1.Ack> responseStream, CancellationToken ct)
    {
        if (batch.Count == 0) return;
        var results = await tenants.AppendEachAsync(tenantId, modality => [.. batch.Select(example =>
        {
            var errors = new List<FieldError>();
            var input = ValidateInput(example.Input, modality, errors);
            var exampleId = example.ExampleId.Length == 0 ? null : example.ExampleId;
            return new TenantService.IncomingExample(input, example.Label, exampleId, InputField(example.Input), errors);
        })], waitForRoom: true, ct);
        for (int i = 0; i < batch.Count; i++)
        {
            var (outcome, error) = results[i];
            var ack = outcome is not null
                ? new V1.Ack { Sequence = outcome.Sequence, Status = outcome.Duplicate ? V1.AckStatus.Duplicate : V1.AckStatus.Accepted, ExampleId = batch[i].ExampleId }
                : new V1.Ack { Status = V1.AckStatus.Invalid, Field = error!.Errors[0].Field, Error = error.Message, ExampleId = batch[i].ExampleId };
            await responseStream.WriteAsync(ack, ct);
        }
    }

    public override async Task<V1.Prediction> Predict(V1.PredictRequest request, ServerCallContext context)
    {
        await auth.RequireTenantAsync(Header(context), request.TenantId, context.CancellationToken);
        var result = await tenants.PredictAsync(request.TenantId, (modality, errors) => ValidateInput(request.Input, modality, errors),
            InputField(request.Input));
        var prediction = new V1.Prediction { Label = result.Label, AdapterVersion = result.AdapterVersion, PredictionId = result.PredictionId ?? "" };
        foreach (var (label, p) in result.Probabilities) prediction.Probabilities[label] = p;
        return prediction;
    }

    public override async Task<V1.FeedbackResponse> Feedback(V1.FeedbackRequest request, ServerCallContext context)
    {
        await auth.RequireTenantAsync(Header(context), request.TenantId, context.CancellationToken);
        var accepted = await tenants.FeedbackAsync(request.TenantId, request.PredictionId, request.Label, context.CancellationToken);
        return new V1.FeedbackResponse { Sequence = accepted.Sequence, Duplicate = accepted.Duplicate, ExampleId = accepted.ExampleId };
    }

    public override async Task<V1.NoiseHistory> GetNoiseHistory(V1.TenantRef request, ServerCallContext context)
    {
        await auth.RequireTenantAsync(Header(context), request.TenantId, context.CancellationToken);
        var history = new V1.NoiseHistory();
        history.Estimates.AddRange((await tenants.NoiseHistoryAsync(request.TenantId, context.CancellationToken)).Select(n =>
        {
            var estimate = new V1.NoiseEstimate
            {
                Version = n.Version, CreatedUtc = n.CreatedUtc.ToString("O", CultureInfo.InvariantCulture), Trace = n.Trace, MeanP = n.MeanP ?? double.NaN,
            };
            estimate.Diagonal.AddRange(n.Diagonal);
            return estimate;
        }));
        return history;
    }

    public override async Task<V1.CheckpointList> ListCheckpoints(V1.TenantRef request, ServerCallContext context)
    {
        await auth.RequireTenantAsync(Header(context), request.TenantId, context.CancellationToken);
        var list = new V1.CheckpointList();
        list.Checkpoints.AddRange((await tenants.ListCheckpointsAsync(request.TenantId, context.CancellationToken)).Select(ToProto));
        return list;
    }

    public override async Task<V1.CheckpointInfo> Checkpoint(V1.TenantRef request, ServerCallContext context)
    {
        await auth.RequireTenantAsync(Header(context), request.TenantId, context.CancellationToken);
        return ToProto(await tenants.CheckpointAsync(request.TenantId));
    }

    public override async Task<V1.Tenant> Rollback(V1.RollbackRequest request, ServerCallContext context)
    {
        await auth.RequireTenantAsync(Header(context), request.TenantId, context.CancellationToken);
        return ToProto(await tenants.RollbackAsync(request.TenantId, request.Version));
    }

    public override async Task<V1.Tenant> AddLabels(V1.AddLabelsRequest request, ServerCallContext context)
    {
        await auth.RequireTenantAsync(Header(context), request.TenantId, context.CancellationToken);
        return ToProto(await tenants.AddLabelsAsync(request.TenantId, [.. request.Labels]));
    }

    public override async Task<V1.Tenant> Resume(V1.TenantRef request, ServerCallContext context)
    {
        await auth.RequireTenantAsync(Header(context), request.TenantId, context.CancellationToken);
        return ToProto(await tenants.ResumeAsync(request.TenantId));
    }

    public override async Task<V1.AdapterFile> ExportAdapter(V1.TenantRef request, ServerCallContext context)
    {
        await auth.RequireTenantAsync(Header(context), request.TenantId, context.CancellationToken);
        var (file, version) = await tenants.ExportAsync(request.TenantId);
        return new V1.AdapterFile { Safetensors = ByteString.CopyFrom(file), AdapterVersion = version };
    }

    public override async Task<V1.PeftAdapter> ExportPeftAdapter(V1.TenantRef request, ServerCallContext context)
    {
        await auth.RequireTenantAsync(Header(context), request.TenantId, context.CancellationToken);
        var (zip, version) = await tenants.ExportPeftAsync(request.TenantId);
        return new V1.PeftAdapter { Zip = ByteString.CopyFrom(zip), AdapterVersion = version };
    }

    static string InputField(V1.Input? input) => input?.KindCase switch
    {
        V1.Input.KindOneofCase.Pixels => "input.pixels",
        V1.Input.KindOneofCase.Text => "input.text",
        _ => "input.image",
    };

    InputPayload? ValidateInput(V1.Input? input, InputModality modality, List<FieldError> errors)
    {
        var limits = tenants.Limits;
        switch (input?.KindCase ?? V1.Input.KindOneofCase.None)
        {
            case V1.Input.KindOneofCase.Text:
                return RequestValidator.ValidateText(input!.Text, modality, limits, errors, "input.text");
            case V1.Input.KindOneofCase.Image:
                return RequestValidator.ValidateImageBytes(input!.Image.ToByteArray(), modality, limits, errors, "input.image");
            case V1.Input.KindOneofCase.Pixels:
                var p = input!.Pixels;
                return RequestValidator.ValidatePixels(p.Width, p.Height, p.Values, modality, limits, errors, "input.pixels");
            default:
                errors.Add(new FieldError("input", modality == InputModality.Text ? "is required: this tenant takes text" : "is required: this tenant takes an image or pixels"));
                return null;
        }
    }

    static V1.Tenant ToProto(Rest.TenantResponse t)
    {
        var proto = new V1.Tenant
        {
            TenantId = t.TenantId, Preset = t.Preset, Optimizer = t.Optimizer,
            ExamplesAccepted = t.ExamplesAccepted, ExamplesApplied = t.ExamplesApplied, ExamplesRejected = t.ExamplesRejected,
            OnlineAccuracy = t.OnlineAccuracy ?? double.NaN, CheckpointVersion = t.CheckpointVersion,
            LastAppliedSequence = t.LastAppliedSequence, QueueDepth = t.QueueDepth, Seed = t.Seed,
            LogEntries = t.LogEntries, Frozen = t.Frozen, ModelSha256 = t.ModelSha256 ?? "", HeadLabels = t.HeadLabels,
        };
        proto.Labels.AddRange(t.Labels);
        if (t.Filter is not null) proto.Filter = ToProto(t.Filter);
        if (t.Quotas is { } q)
        {
            proto.Quotas = new V1.Quotas();
            if (q.ExamplesPerSecond is { } examples) proto.Quotas.ExamplesPerSecond = examples;
            if (q.PredictionsPerSecond is { } predictions) proto.Quotas.PredictionsPerSecond = predictions;
            if (q.MaxLogEntries is { } entries) proto.Quotas.MaxLogEntries = entries;
        }
        proto.Events.AddRange(t.Events.Select(e => new V1.TenantEvent
        {
            TimeUtc = e.TimeUtc.ToString("O", CultureInfo.InvariantCulture), Kind = e.Kind, Reason = e.Reason,
            CheckpointVersion = e.CheckpointVersion, LastAppliedSequence = e.LastAppliedSequence,
        }));
        return proto;
    }

    static Rest.FilterSettings FromProto(V1.FilterSettings f) => new()
    {
        Variant = f.HasVariant ? f.Variant : null,
        P0 = f.HasP0 ? f.P0 : null,
        P0Constant = f.HasP0Constant ? f.P0Constant : null,
        R0 = f.HasR0 ? f.R0 : null,
        Beta = f.HasBeta ? f.Beta : null,
        Q = f.HasQ ? f.Q : null,
        Noise = f.HasNoise ? f.Noise : null,
        LearningRate = f.HasLearningRate ? f.LearningRate : null,
    };

    static V1.FilterSettings ToProto(Rest.FilterSettings f)
    {
        var proto = new V1.FilterSettings();
        if (f.Variant is not null) proto.Variant = f.Variant;
        if (f.P0 is not null) proto.P0 = f.P0;
        if (f.P0Constant is { } p0Constant) proto.P0Constant = p0Constant;
        if (f.R0 is { } r0) proto.R0 = r0;
        if (f.Beta is { } beta) proto.Beta = beta;
        if (f.Q is { } q) proto.Q = q;
        if (f.Noise is not null) proto.Noise = f.Noise;
        if (f.LearningRate is { } learningRate) proto.LearningRate = learningRate;
        return proto;
    }

    static V1.CheckpointInfo ToProto(Rest.CheckpointResponse c) => new()
    {
        Version = c.Version, LastAppliedSequence = c.LastAppliedSequence, ExamplesApplied = c.ExamplesApplied,
        CreatedUtc = c.CreatedUtc.ToString("O", CultureInfo.InvariantCulture), NoiseTrace = c.NoiseTrace ?? double.NaN,
    };
}
