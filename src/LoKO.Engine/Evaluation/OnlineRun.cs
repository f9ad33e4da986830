using System.Diagnostics;
using LoKO.Engine.Lora;
using LoKO.Engine.Models;
using LoKO.Engine.Optimizers;
using static TorchSharp.torch;

namespace LoKO.Engine.Evaluation;

/// <summary>
/// One optimizer over one stream, the paper's protocol: a single pass, batch size 1, and for each arriving
/// example predict first, score that prediction, then learn. After the pass the adapter is scored on a
/// held-out split with no learning. The adapter and optimizer are the caller's (every optimizer compared
/// must start from the same adapter initialisation and see the same stream order).
/// </summary>
public sealed class OnlineRun
{
    /// <summary>Examples per forward pass when scoring the held-out split.</summary>
    public const int HeldOutBatch = 32;

    OnlineRun(string optimizer, IReadOnlyList<StepRecord> steps, int heldOutCount, double? heldOutAccuracy, double seconds)
    {
        Optimizer = optimizer;
        Steps = steps;
        HeldOutCount = heldOutCount;
        HeldOutAccuracy = heldOutAccuracy;
        Seconds = seconds;
    }

    /// <summary>The optimizer's name (<see cref="IOnlineOptimizer.Name"/>).</summary>
    public string Optimizer { get; }
    /// <summary>One record per streamed example, in stream order.</summary>
    public IReadOnlyList<StepRecord> Steps { get; }
    public int HeldOutCount { get; }
    /// <summary>Accuracy on the held-out split after the pass; null when the split is empty.</summary>
    public double? HeldOutAccuracy { get; }
    /// <summary>Wall time of the whole run, held-out scoring included.</summary>
    public double Seconds { get; }

    /// <summary>
    /// Streams <paramref name="stream"/> through <paramref name="optimizer"/> (bound to <paramref name="adapter"/>'s θ),
    /// then scores <paramref name="heldOut"/>. <paramref name="progress"/> is called after each step with the
    /// number of examples done and that step's record.
    /// </summary>
    public static OnlineRun Execute(BaseModel model, TenantAdapter adapter, IOnlineOptimizer optimizer,
        IReadOnlyList<LabeledExample> stream, IReadOnlyList<LabeledExample> heldOut,
        Action<int, StepRecord>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(adapter);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(heldOut);
        var total = Stopwatch.StartNew();
        var records = new List<StepRecord>(stream.Count);
        // A deferred step (the bounded-P₀ warm-up) keeps the forward closure and replays it later, so
        // its encoded inputs must outlive the step; they are released once a step is no longer deferred.
        var pending = new List<EncodedInputs>();
        try
        {
            for (int i = 0; i < stream.Count; i++)
            {
                var example = stream[i];
                var inputs = EncodeOwned(model, example.Input);
                StepRecord record;
                using (NewDisposeScope())
                {
                    var targets = tensor(new long[] { example.Label });
                    var clock = Stopwatch.StartNew();
                    var outcome = optimizer.Step(model.Pass(inputs, adapter), targets);
                    clock.Stop();
                    record = new StepRecord(i, example.Label, ArgMax(outcome.Predictions), outcome.Loss,
                        clock.Elapsed.TotalMilliseconds, outcome.Status, outcome.Reason, outcome.GuardEvent);
                    outcome.Dispose();
                }
                pending.Add(inputs);
                if (record.Status != StepStatus.Deferred) Release(pending);
                records.Add(record);
                progress?.Invoke(i + 1, record);
            }
        }
        finally
        {
            Release(pending);
        }
        double? accuracy = heldOut.Count == 0 ? null : Score(model, adapter, heldOut);
        return new OnlineRun(optimizer.Name, records, heldOut.Count, accuracy, total.Elapsed.TotalSeconds);
    }

    /// <summary>Accuracy of the adapter's argmax predictions on <paramref name="examples"/>, in batches, no learning.</summary>
    public static double Score(BaseModel model, TenantAdapter adapter, IReadOnlyList<LabeledExample> examples)
    {
        if (examples.Count == 0) throw new ArgumentException("nothing to score", nameof(examples));
        int correct = 0;
        using var _ = no_grad();
        for (int start = 0; start < examples.Count; start += HeldOutBatch)
        {
            using var scope = NewDisposeScope();
            var batch = examples.Skip(start).Take(HeldOutBatch).ToList();
            using var inputs = model.Encode([.. batch.Select(e => e.Input)]);
            var predicted = model.Forward(inputs, adapter).argmax(1).cpu().data<long>().ToArray();
            for (int j = 0; j < batch.Count; j++)
                if (predicted[j] == batch[j].Label) correct++;
        }
        return (double)correct / examples.Count;
    }

    /// <summary>Index of the largest class probability, or −1 when any probability is not finite.</summary>
    static int ArgMax(Tensor predictions)
    {
        var p = predictions.reshape(-1).to(ScalarType.Float64).cpu().data<double>().ToArray();
        if (p.Length == 0 || p.Any(v => !double.IsFinite(v))) return -1;
        int best = 0;
        for (int j = 1; j < p.Length; j++)
            if (p[j] > p[best]) best = j;
        return best;
    }

    /// <summary>Encodes one example into tensors owned by the returned object, not by any dispose scope.</summary>
    static EncodedInputs EncodeOwned(BaseModel model, ModelInput input)
    {
        using var scope = NewDisposeScope();
        var inputs = model.Encode([input]);
        foreach (var t in inputs.Feeds.Values) t.DetachFromDisposeScope();
        inputs.TokenMask?.DetachFromDisposeScope();
        return inputs;
    }

    static void Release(List<EncodedInputs> inputs)
    {
        foreach (var i in inputs) i.Dispose();
        inputs.Clear();
    }
}
