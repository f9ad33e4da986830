using System.Globalization;
using System.Text;
using System.Text.Json;
using static LoKO.Bench.Online.Format;

namespace LoKO.Bench.Load;

/// <summary>load.md (tables and what each figure measures) and load.json, whose content is also the last stdout line.</summary>
static class LoadReport
{
    static readonly JsonSerializerOptions Json = new(Online.Format.Json) { Converters = { new ThreeDecimals() } };

    public static void Write(string directory, LoadFigures f, Uri rest, Uri grpc)
    {
        Directory.CreateDirectory(directory);
        var md = new StringBuilder();
        md.AppendLine("# LoKO service under load");
        md.AppendLine();
        md.AppendLine(Inv($"Preset `{f.Preset}`, {f.Labels.Count} labels ({string.Join(", ", f.Labels)}: fortunes texts), default `{f.Optimizer}` optimizer and LoRA settings, {f.ExamplesPerTenant} examples per tenant over gRPC ({(f.InFlight is { } k ? $"at most {k} unacknowledged per stream" : "as fast as flow control allows")}), at most {f.MaxTokens} tokens, {f.Threads} LibTorch threads for the bare step. Server: REST {rest}, gRPC {grpc}, device {f.ServerDevice ?? "not named"}, {Batching(f.ServerBatchTenants)}; measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC."));
        md.AppendLine();
        md.AppendLine("| tenants | examples | applied/s | acks/s | ack p50 ms | ack p99 ms | wall s | rejected | server step ms | tenants per batch |");
        md.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in f.Runs)
            md.AppendLine(Inv($"| {r.Tenants} | {r.Tenants * r.ExamplesPerTenant} | {r.AppliedPerSecond:F2} | {r.AcksPerSecond:F1} | {Ms(r.AckP50Ms)} | {Ms(r.AckP99Ms)} | {r.WallSeconds:F1} | {r.Rejected} | {Opt(r.ServerStepMs, "F1", "")} | {Opt(r.BatchMeanTenants, "F2", "")} |"));
        md.AppendLine();
        md.AppendLine("| figure | value |");
        md.AppendLine("|---|---:|");
        md.AppendLine(Inv($"| Predict p50 / p99 ({f.PredictCalls} sequential calls, trained tenant) | {Ms(f.PredictP50Ms)} / {Ms(f.PredictP99Ms)} ms |"));
        md.AppendLine(Inv($"| first tenant of the server: CreateTenant → first prediction (includes the base-model load) | {Ms(f.Cold.FirstTenantMs)} ms |"));
        md.AppendLine(Inv($"| cold tenant: CreateTenant → first prediction (of which CreateTenant) | {Ms(f.Cold.TenantMs)} ms ({Ms(f.Cold.CreateMs)} ms) |"));
        md.AppendLine(Inv($"| bare engine step (in-process, same texts) | {Ms(f.BareStepMs)} ms |"));
        md.AppendLine(Inv($"| service time per example, 1 tenant (1 / applied per s) | {Opt(f.ServicePerExampleMs, "F1", " ms")} |"));
        md.AppendLine(Inv($"| service overhead over the bare step | {Opt(f.OverheadMs, "F1", " ms")} (× {Opt(f.OverheadRatio, "F2", "")}) |"));
        md.AppendLine();
        md.AppendLine("""
            What the figures measure:
            - **applied/s**: every tenant's examples divided by the wall time from the first send to the moment the last
              tenant's `examplesApplied` (GetTenant, polled) held all of them — the sustained learning rate. Before the
              first run one tenant learns a few examples untimed (the server's first steps are slow, as the bare step's
              warm-up steps are), and each run's tenants are created and activated (one untimed Predict each) before the
              clock starts.
            - **acks/s** and **ack latency**: one Learn stream per tenant; latency runs from the client's write to the
              ACCEPTED ack. Writing as fast as HTTP/2 flow control allows, a stream runs far ahead (the window holds many
              small examples; the server commits whatever has arrived in one transaction, up to 64 at a time), so the latency
              is mostly waiting behind the stream's own earlier examples and grows with --examples. With `--in-flight 1` each
              example waits for its ack before the next is written: the latency is then the service's own per-example
              acknowledgement time. An ack means the example is durably in the tenant's log, not that it was learned:
              acks run ahead of learning until a tenant's queue (`LoKO:MaxQueuedExamples`) is full, then at its pace.
            - **server step**: mean of `loko_step_duration_seconds` at `/metrics` for the run's tenants — one predict-then-learn
              step on the server's compute executor, tokenization included (with batching on, each step's share of its
              batch's time).
            - **tenants per batch**: with cross-tenant batching on (`LoKO:BatchTenants`, named by /readyz), the mean
              number of tenants' steps in one batched pass during the run, from `loko_batch_tenants` at `/metrics`;
              — while batching is off.
            - **cold tenant**: the server starts activating a tenant when it is created; the first Predict waits for it.
              The client has no way to evict a resident tenant or restart the server, so a load from a checkpoint with
              log replay is not measured here.
            - **bare engine step**: the same LoKO step (forward, Jacobian, Kalman update) in the bench process on the same
              texts and token limit, after warm-up, tokenization excluded; **overhead** is the 1-tenant service time per
              example minus (and over) that step.
            """);
        File.WriteAllText(Path.Combine(directory, "load.md"), md.ToString());
        Emit(Path.Combine(directory, "load.json"), JsonSerializer.Serialize(f, Json));
    }

    /// <summary>The batching setting in words.</summary>
    public static string Batching(ServerBatching? b) => b is null ? "cross-tenant batching off"
        : Inv($"cross-tenant batching of up to {b.MaxTenants} tenants' steps, a step waiting at most {b.MaxWaitMs:0.###} ms");

    static string Opt(double? v, string format, string unit) => v is { } x ? x.ToString(format, CultureInfo.InvariantCulture) + unit : "—";
}
