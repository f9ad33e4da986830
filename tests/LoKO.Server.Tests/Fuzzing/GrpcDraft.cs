using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;

namespace LoKO.Server.Tests.Fuzzing;

/// <summary>How a fuzzed stream ends: completed by the client, cancelled once every message sent was acknowledged, or abandoned.</summary>
public enum StreamCut { None, AfterAcks, Abandon }

/// <summary>One gRPC call as the fuzzer builds it: the encoded messages exactly as sent (raw bytes), its metadata and how it ends.</summary>
public sealed record GrpcCase(MethodDescriptor Method, IReadOnlyList<byte[]> Messages, string? Authorization, Metadata Extra, bool ShortDeadline,
                              StreamCut Cut, IReadOnlyList<string> Notes, FuzzOperation Operation)
{
    public string Describe() =>
        $"{Method.Name} ({Messages.Count} message(s): {string.Join(", ", Messages.Select(m => $"{m.Length} bytes {Convert.ToHexString(m, 0, Math.Min(m.Length, 24))}"))}), " +
        $"authorization {(Authorization is null ? "none" : Authorization.Length > 60 ? Authorization[..20] + "…" : "\"" + Authorization + "\"")}" +
        (Extra.Count > 0 ? $", metadata {string.Join(", ", Extra.Select(e => e.Key))}" : "") + (ShortDeadline ? ", short deadline" : "") +
        (Cut != StreamCut.None ? $", cut {Cut}" : "") + (Notes.Count > 0 ? ", " + string.Join("; ", Notes) : "");
}

/// <summary>
/// Builds one call for a gRPC method: the tenant its messages name (sometimes an unknown or odd id), the key it sends
/// (sometimes none, another tenant's, the admin's, malformed), odd metadata, short deadlines, and its messages, valid
/// or broken by <see cref="ProtoMutator"/>.
/// </summary>
public sealed class GrpcDraft(MethodDescriptor method, Random rng, FuzzTargets targets, bool fuzzed)
{
    readonly List<string> _notes = [];
    string? _authorization;

    public MethodDescriptor Method => method;
    public Random Rng => rng;
    public FuzzTargets Targets => targets;
    public bool Fuzzed => fuzzed;
    public string TenantId { get; private set; } = "";

    public GrpcDraft ForTenant(FuzzTenant? preferred = null)
    {
        var tenant = preferred ?? rng.Next(20) switch
        {
            < 11 => targets.Main,
            < 16 => targets.Other,
            < 18 => targets.Doomed,
            _ => null,
        };
        TenantId = tenant?.Id ?? "fuzz-unknown-" + rng.Next(1000);
        if (fuzzed && rng.Next(5) == 0)
        {
            TenantId = rng.Next(6) switch
            {
                0 => "",
                1 => TenantId.ToUpperInvariant(),
                2 => " " + TenantId,
                3 => TenantId + "\0",
                4 => new string('a', 5000),
                _ => NastyValues.String(rng),
            };
            _notes.Add($"tenant_id {JsonMutator.Quote(TenantId.Length > 40 ? TenantId[..40] : TenantId)}");
        }
        _authorization = "Bearer " + (tenant?.Key ?? targets.AdminKey);
        if (fuzzed && rng.Next(3) == 0) _authorization = OddAuthorization.Draw(rng, targets, tenant, nonAscii: false, _notes);
        return this;
    }

    public GrpcDraft AsAdmin()
    {
        _authorization = "Bearer " + targets.AdminKey;
        if (fuzzed && rng.Next(3) == 0) _authorization = OddAuthorization.Draw(rng, targets, null, nonAscii: false, _notes);
        return this;
    }

    /// <summary>The message's bytes: as is, or (when fuzzing, with odds <paramref name="odds"/> in 3) broken.</summary>
    public byte[] Encode(IMessage valid, int odds = 2) =>
        fuzzed && rng.Next(3) < odds ? ProtoMutator.Mutate(valid, rng, _notes) : valid.ToByteArray();

    public GrpcCase Build(IReadOnlyList<byte[]> messages, FuzzOperation operation = FuzzOperation.Other, StreamCut cut = StreamCut.None)
    {
        var extra = new Metadata();
        if (fuzzed && rng.Next(6) == 0)
        {
            switch (rng.Next(4))
            {
                case 0: extra.Add("authorization", "Bearer not-a-key"); break;
                case 1: extra.Add("grpc-internal-encoding-request", "gzip"); break;
                case 2: extra.Add("x-fuzz", new string('v', 4000)); break;
                default: extra.Add("x-fuzz-bin", [0xFF, 0x00, 0xFE]); break;
            }
        }
        // A short deadline only where the call cannot accept an example (an acceptance it cut off would go unacknowledged).
        bool accepts = method.Name is "Learn" or "Feedback" || method.IsClientStreaming;
        bool shortDeadline = fuzzed && !accepts && rng.Next(12) == 0;
        return new GrpcCase(method, messages, _authorization, extra, shortDeadline, cut, _notes, operation);
    }
}
