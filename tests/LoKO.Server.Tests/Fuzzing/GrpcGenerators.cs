using Google.Protobuf;
using Google.Protobuf.Reflection;
using LoKO.Contracts.V1;

namespace LoKO.Server.Tests.Fuzzing;

/// <summary>
/// A generator for every method of the gRPC service, keyed by method name: each builds a valid call that
/// <see cref="GrpcDraft"/> then breaks when fuzzing. A method of the service descriptor without one fails the test.
/// </summary>
public static class GrpcGenerators
{
    /// <summary>A label no fuzzed tenant has: an example carrying it is never accepted.</summary>
    public const string NoSuchLabel = "__no_such_label__";

    static readonly string[] Optimizers = ["loko", "adamw", "adagrad", "sgd"];

    public static readonly IReadOnlyDictionary<string, Func<GrpcDraft, GrpcCase>> ByMethod = new Dictionary<string, Func<GrpcDraft, GrpcCase>>
    {
        ["CreateTenant"] = d => d.AsAdmin().Build([d.Encode(CreateRequest(d))], FuzzOperation.Create),
        ["GetTenant"] = d => OnTenantRef(d),
        ["DeleteTenant"] = d => OnTenantRef(d, d.Rng.Next(3) == 0 ? d.Targets.Doomed : null, FuzzOperation.Delete),
        ["Learn"] = Learn,
        ["Predict"] = d =>
        {
            d.ForTenant();
            return d.Build([d.Encode(new PredictRequest { TenantId = d.TenantId, Input = Input(d.Rng) })]);
        },
        ["Feedback"] = d =>
        {
            d.ForTenant();
            return d.Build([d.Encode(new FeedbackRequest
            {
                TenantId = d.TenantId, PredictionId = d.Targets.PredictionId(d.Rng, d.TenantId), Label = d.Targets.Label(d.Rng),
            })]);
        },
        ["AddLabels"] = d =>
        {
            d.ForTenant();
            return d.Build([d.Encode(new AddLabelsRequest { TenantId = d.TenantId, Labels = { FuzzTargets.NewLabels(d.Rng) } })]);
        },
        ["ListCheckpoints"] = d => OnTenantRef(d),
        ["Checkpoint"] = d => OnTenantRef(d),
        ["Rollback"] = d =>
        {
            d.ForTenant(d.Rng.Next(4) > 0 ? d.Targets.Other : null);
            return d.Build([d.Encode(new RollbackRequest { TenantId = d.TenantId, Version = d.Targets.Version(d.Rng) })], FuzzOperation.Rollback);
        },
        ["Resume"] = d => OnTenantRef(d),
        ["GetNoiseHistory"] = d => OnTenantRef(d),
        ["ExportAdapter"] = d => OnTenantRef(d),
        ["ExportPeftAdapter"] = d => OnTenantRef(d),
        ["ListModels"] = d => (d.Rng.Next(2) == 0 ? d.AsAdmin() : d.ForTenant()).Build([d.Encode(new ListModelsRequest())]),
    };

    /// <summary>How often a method is drawn, relative to 1 (as <see cref="RestGenerators.Weight"/>).</summary>
    public static double Weight(MethodDescriptor method) => method.Name switch
    {
        "Learn" or "Predict" => 3,
        "Feedback" or "CreateTenant" => 2,
        "Checkpoint" or "Rollback" or "ExportAdapter" or "ExportPeftAdapter" or "ListModels" => 0.4,
        _ => 1,
    };

    static GrpcCase OnTenantRef(GrpcDraft d, FuzzTenant? preferred = null, FuzzOperation operation = FuzzOperation.Other)
    {
        d.ForTenant(preferred);
        return d.Build([d.Encode(new TenantRef { TenantId = d.TenantId })], operation);
    }

    /// <summary>
    /// A few examples on one stream. A stream that is cut carries only examples that cannot be accepted past the point
    /// of the cut (the fuzzer counts acknowledgements, and an acceptance cut off before its acknowledgement is no fault).
    /// </summary>
    static GrpcCase Learn(GrpcDraft d)
    {
        d.ForTenant();
        var cut = d.Fuzzed ? (StreamCut)d.Rng.Next(3) : StreamCut.None;
        var messages = new List<byte[]>();
        for (int i = d.Rng.Next(1, 4); i > 0; i--)
        {
            var example = new Example
            {
                TenantId = d.TenantId, Input = Input(d.Rng), ExampleId = FuzzTargets.ExampleId(d.Rng) ?? "",
                Label = cut == StreamCut.Abandon ? NoSuchLabel : d.Targets.Label(d.Rng),
            };
            messages.Add(d.Encode(example, odds: 1));
        }
        return d.Build(messages, cut: cut);
    }

    static Input Input(Random rng) => rng.Next(12) switch
    {
        0 => new Input { Image = ByteString.CopyFrom(0x89, 0x50, 0x4E, 0x47) },
        1 => new Input { Pixels = new Pixels { Width = 2, Height = 1, Values = { 1, 2 } } },
        2 => new Input(),
        _ => new Input { Text = FuzzTargets.Text(rng) },
    };

    /// <summary>A creation request for a tenant that exists (ALREADY_EXISTS when valid): the fuzzer never creates tenants.</summary>
    static CreateTenantRequest CreateRequest(GrpcDraft d)
    {
        var rng = d.Rng;
        var t = d.Targets;
        var request = new CreateTenantRequest
        {
            TenantId = rng.Next(2) == 0 ? t.Main.Id : t.Other.Id, Preset = "minilm-l6", Labels = { t.Labels }, Lora = new LoraSettings { Rank = 2 },
        };
        if (rng.Next(2) == 0) request.Optimizer = Optimizers[rng.Next(Optimizers.Length)];
        if (rng.Next(3) == 0) request.Lora.Alpha = 16;
        if (rng.Next(4) == 0) request.Lora.Targets.Add(["*query*", "*value*"]);
        if (rng.Next(3) == 0) request.Filter = new FilterSettings { Variant = "paper", R0 = 0.5, Beta = 0.5, Q = 0, Noise = "diagonal", P0 = "auto" };
        if (rng.Next(3) == 0) request.Seed = rng.Next(1000);
        if (rng.Next(3) == 0) request.Quotas = new Quotas { ExamplesPerSecond = 10, PredictionsPerSecond = 5, MaxLogEntries = 1000 };
        if (rng.Next(3) == 0) request.Adapter = ByteString.CopyFrom(rng.Next(3) == 0 ? NastyValues.Corrupted(t.PeftZip, rng) : t.PeftZip);
        return request;
    }
}
