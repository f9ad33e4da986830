using System.Globalization;
using System.Text.Json;
using LoKO.Engine.Checkpoints;
using LoKO.Server.Storage;
using LoKO.Server.Telemetry;
using static TorchSharp.torch;

namespace LoKO.Server.Tenants;

/// <summary>The commands that read the adapter between steps, on the loop: predictions (and their feedback) and the export.</summary>
public sealed partial class TenantActor
{
    /// <summary>A prediction with the current adapter, kept for feedback (outside the loop) when the server keeps predictions.</summary>
    public async Task<PredictionResult> PredictAsync(StoredPayload payload)
    {
        var clock = PhaseClock.ForDebug(_s.Logger);
        var (probabilities, version) = await Enqueue(async () =>
        {
            clock?.Mark("loop wait");
            var input = payload.ToModelInput();
            var p = await _s.Compute.Run(() =>
            {
                clock?.Mark("compute wait");
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                var logits = _model.Forward([input], _adapter);
                var probabilities = logits.softmax(1).to(ScalarType.Float64).cpu().data<double>().ToArray();
                clock?.Mark("forward");
                return probabilities;
            });
            return (p, Counters.LastApplied);
        });
        clock?.Mark("back on the loop");
        int best = Array.IndexOf(probabilities, probabilities.Max());
        var map = new Dictionary<string, double>(Settings.Labels.Count);
        for (int i = 0; i < probabilities.Length; i++) map[Settings.Labels[i]] = probabilities[i];
        string? predictionId = null;
        try
        {
            predictionId = await Predictions.AddAsync(payload, best, probabilities, version);
        }
        catch (Exception e) when (StorageFaults.IsStorageFault(e))
        {
            // The prediction is still worth answering; without a predictionId it promises nothing the store cannot keep.
            _s.Metrics.StorageFailed(_gauges, "prediction");
            _s.Logger.LogWarning(e, "Tenant {Tenant}: the prediction is answered without a predictionId: the metadata store cannot keep it", TenantId);
        }
        if (clock is not null) _s.Logger.LogDebug("Tenant {Tenant}: prediction took {Ms:F1} ms: {Phases}", TenantId, clock.TotalMs, clock);
        return new PredictionResult(Settings.Labels[best], map, version, predictionId);
    }

    /// <summary>The label of a kept prediction, appended once as an example (see <see cref="PendingPredictions.FeedbackAsync"/>).</summary>
    public Task<AppendOutcome> FeedbackAsync(string predictionId, string label, int labelIndex, CancellationToken ct) =>
        Predictions.FeedbackAsync(predictionId, label, labelIndex, examples => AppendAsync(examples, waitForRoom: false, ct), ct);


    /// <summary>The adapter as safetensors: θ, each LoRA piece and the head by name, and how to read them.</summary>
    public Task<AdapterFile> ExportAsync() => Enqueue(async () =>
    {
        long version = Counters.LastApplied;
        var bytes = await _s.Compute.Run(() =>
        {
            using var scope = NewDisposeScope();
            var theta = _adapter.Theta.detach();
            var tensors = new Dictionary<string, Tensor> { ["theta"] = theta };
            foreach (var segment in _adapter.Layout.Segments)
                tensors[segment.Name] = theta.narrow(0, segment.Offset, segment.Length).view(segment.Shape);
            var meta = new Dictionary<string, string>
            {
                ["tenant"] = TenantId,
                ["preset"] = Settings.Preset,
                ["labels"] = JsonSerializer.Serialize(Settings.Labels.Take(_adapter.Layout.Outputs)),
                ["rank"] = _adapter.Layout.Rank.ToString(CultureInfo.InvariantCulture),
                ["scale"] = _adapter.Layout.Scale.ToString("R", CultureInfo.InvariantCulture),
                ["adapterVersion"] = version.ToString(CultureInfo.InvariantCulture),
            };
            using var stream = new MemoryStream();
            SafetensorsCodec.Write(stream, tensors, meta);
            return stream.ToArray();
        });
        return new AdapterFile(bytes, version);
    });
}
