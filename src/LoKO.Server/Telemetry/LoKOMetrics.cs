using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using LoKO.Engine.Filter;
using LoKO.Server.Hosting;
using LoKO.Server.Tenants;
using Microsoft.Extensions.Options;

namespace LoKO.Server.Telemetry;

/// <summary>Settings of the "LoKO:Metrics" configuration section.</summary>
public sealed class MetricsOptions
{
    /// <summary>Tenants that get their own <c>tenant</c> label; tenants first seen after these are reported as <c>tenant="other"</c>.</summary>
    public int MaxTenantLabels { get; set; } = 100;
    /// <summary>Examples in the window of the online (prequential) accuracy and loss gauges.</summary>
    public int Window { get; set; } = 100;
}

/// <summary>
/// Every instrument of the service, on one <see cref="Meter"/> named "LoKO" (exported at <c>/metrics</c> by the
/// Prometheus exporter). Counters and histograms are tagged with the tenant's label; gauges are observed per
/// label when scraped. The label set is bounded: the first <see cref="MetricsOptions.MaxTenantLabels"/> tenants seen
/// keep their id, every later one is reported as <c>other</c>. Under a shared label, queue depths add up and the
/// other gauges are the mean over the tenants that share it.
/// </summary>
public sealed class LoKOMetrics
{
    public const string MeterName = "LoKO";
    public const string OtherTenants = "other";

    static readonly double[] StepBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    static readonly double[] CheckpointBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    readonly int _maxLabels;
    readonly int _window;
    readonly ConcurrentDictionary<string, string> _labels = new(StringComparer.Ordinal);
    readonly Lock _labelGate = new();
    readonly ConcurrentDictionary<string, TenantGauges> _resident = new(StringComparer.Ordinal);
    // Frozen or not, per tenant seen since startup (seeded with the stored frozen tenants): kept across eviction,
    // so that a frozen tenant that is not resident still reports 1.
    readonly ConcurrentDictionary<string, bool> _frozen = new(StringComparer.Ordinal);

    readonly Counter<long> _accepted, _applied, _rejected, _guardEvents, _checkpointFallbacks, _storageFailures;
    readonly Histogram<double> _stepDuration, _checkpointDuration;

    public LoKOMetrics(IMeterFactory meters, IOptions<LoKOOptions> options, ResidentTenants resident)
    {
        var settings = options.Value.Metrics;
        _maxLabels = Math.Max(0, settings.MaxTenantLabels);
        _window = Math.Max(1, settings.Window);

        var meter = meters.Create(MeterName);
        _accepted = meter.CreateCounter<long>("loko.examples.accepted", "{example}", "Examples appended to a tenant's log and acknowledged.");
        _applied = meter.CreateCounter<long>("loko.examples.applied", "{example}", "Examples learned (one optimizer step each).");
        _rejected = meter.CreateCounter<long>("loko.examples.rejected", "{example}", "Logged examples the optimizer refused or could not learn.");
        _guardEvents = meter.CreateCounter<long>("loko.guard.events", "{event}", "Divergence guard interventions (state restored, gain damped).");
        _checkpointFallbacks = meter.CreateCounter<long>("loko.checkpoint.fallbacks", "{checkpoint}",
            "Checkpoints a restore skipped (reason: missing, truncated, checksum, invalid, unreadable): the tenant fell back to an older one, or its initial state, and the log after it.");
        _storageFailures = meter.CreateCounter<long>("loko.storage.failures", "{operation}",
            "Writes the metadata store or data directory refused (operation: append, answered 503 and not acknowledged; checkpoint, tried again later; prediction, answered without a predictionId; rollback, not done).");
        _stepDuration = meter.CreateHistogram("loko.step.duration", "s", "Time of one learning step (predict, then learn) on the compute executor.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = StepBuckets });
        _checkpointDuration = meter.CreateHistogram("loko.checkpoint.duration", "s", "Time to write and commit one checkpoint.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = CheckpointBuckets });

        meter.CreateObservableGauge("loko.tenants.resident", () => resident.Count, "{tenant}", "Tenant grains loaded in memory on this server.");
        meter.CreateObservableGauge("loko.tenants.resident_memory", () => resident.Bytes, "By",
            "Estimated memory of the resident tenants' adapters and optimizer state, spent against LoKO:ResidentTenantBudgetMB.");
        meter.CreateObservableGauge("loko.tenants.departing_memory", () => resident.DepartingBytes, "By",
            "Estimated memory of evicted tenants not yet freed (checkpointing, disposing): admissions count it against LoKO:ResidentTenantBudgetMB too.");
        meter.CreateObservableGauge("loko.queue.depth", () => Observe(g => g.QueueDepth(), sum: true), "{example}",
            "Accepted examples waiting to be learned.");
        var queueCapacity = options.Value.MaxQueuedExamples;
        meter.CreateObservableGauge("loko.queue.capacity", () => queueCapacity, "{example}",
            "Examples a tenant's queue holds before appends are refused (LoKO:MaxQueuedExamples).");
        meter.CreateObservableGauge("loko.tenant.frozen", ObserveFrozen, unit: null, description:
            "1 while the guard rails keep the tenant's learning frozen (examples are still logged), else 0.");
        meter.CreateObservableGauge("loko.online.accuracy", () => Observe(g => g.Accuracy), unit: null, description:
            "Prequential accuracy (prediction before learning) over the last window of examples.");
        meter.CreateObservableGauge("loko.online.loss", () => Observe(g => g.Loss), unit: null, description: "Mean step loss over the last window of examples.");
        meter.CreateObservableGauge("loko.filter.innovation_norm", () => Observe(g => g.InnovationNorm), unit: null, description: "Innovation norm of the latest step.");
        meter.CreateObservableGauge("loko.filter.noise_trace", () => Observe(g => g.NoiseTrace), unit: null, description: "Trace of the observation noise R after the latest step.");
        meter.CreateObservableGauge("loko.filter.mean_covariance", () => Observe(g => g.MeanCovariance), unit: null, description: "Mean of the diagonal covariance p after the latest step.");
        meter.CreateObservableGauge("loko.torch.tensors", () => TorchSharp.torch.Tensor.TotalCount, "{tensor}",
            "TorchSharp tensors alive in the process (created and not yet disposed or finalized): a steady rise is a leak of undisposed tensors.");
    }

    /// <summary>The label a tenant is reported under: its id for the first tenants seen, <c>other</c> after that.</summary>
    public string LabelOf(string tenantId)
    {
        if (_labels.TryGetValue(tenantId, out var label)) return label;
        lock (_labelGate)
        {
            if (_labels.TryGetValue(tenantId, out label)) return label;
            int named = _labels.Values.Count(v => !ReferenceEquals(v, OtherTenants));
            label = named < _maxLabels ? tenantId : OtherTenants;
            _labels[tenantId] = label;
            return label;
        }
    }

    /// <summary>A tenant became resident; its gauges are observed until <see cref="Untrack"/>.</summary>
    public TenantGauges Track(string tenantId, Func<int> queueDepth)
    {
        var gauges = new TenantGauges(LabelOf(tenantId), queueDepth, _window);
        _resident[tenantId] = gauges;
        return gauges;
    }

    public void Untrack(string tenantId, TenantGauges gauges) => _resident.TryRemove(KeyValuePair.Create(tenantId, gauges));

    /// <summary>The tenant's frozen state as <c>loko_tenant_frozen</c> reports it (also while it is not resident).</summary>
    public void SetFrozen(string tenantId, bool frozen) => _frozen[tenantId] = frozen;

    /// <summary>A deleted tenant: its frozen series goes away.</summary>
    public void Forget(string tenantId) => _frozen.TryRemove(tenantId, out _);

    public void Accepted(TenantGauges tenant, int count)
    {
        if (count > 0) _accepted.Add(count, Tag(tenant));
    }

    public void Rejected(TenantGauges tenant) => _rejected.Add(1, Tag(tenant));

    /// <summary>One step's outcome: counters, latency, the windowed accuracy and loss, and the filter's diagnostics.</summary>
    public void Stepped(TenantGauges tenant, TimeSpan duration, bool applied, bool correct, double loss,
                        double innovationNorm, double noiseTrace, double meanCovariance, string? guardEvent)
    {
        var tag = Tag(tenant);
        (applied ? _applied : _rejected).Add(1, tag);
        _stepDuration.Record(duration.TotalSeconds, tag);
        if (guardEvent is not null)
            _guardEvents.Add(1, tag, new KeyValuePair<string, object?>("kind", DivergenceGuard.KindOf(guardEvent)));
        tenant.Record(correct, loss, innovationNorm, noiseTrace, meanCovariance);
    }

    public void CheckpointWritten(TenantGauges tenant, TimeSpan duration) => _checkpointDuration.Record(duration.TotalSeconds, Tag(tenant));

    /// <summary>A restore skipped a checkpoint that could not be used (<paramref name="reason"/>: a <c>CheckpointFault</c> label).</summary>
    public void CheckpointFallback(TenantGauges tenant, string reason) =>
        _checkpointFallbacks.Add(1, Tag(tenant), new KeyValuePair<string, object?>("reason", reason));

    /// <summary>The store refused a write of <paramref name="operation"/> (append, checkpoint, prediction, rollback).</summary>
    public void StorageFailed(TenantGauges tenant, string operation) =>
        _storageFailures.Add(1, Tag(tenant), new KeyValuePair<string, object?>("operation", operation));

    static KeyValuePair<string, object?> Tag(TenantGauges tenant) => new("tenant", tenant.Label);

    /// <summary>Per label, 1 when any tenant under it is frozen.</summary>
    IEnumerable<Measurement<int>> ObserveFrozen()
    {
        var groups = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (tenantId, frozen) in _frozen)
        {
            var label = LabelOf(tenantId);
            groups[label] = Math.Max(groups.GetValueOrDefault(label), frozen ? 1 : 0);
        }
        foreach (var (label, value) in groups)
            yield return new Measurement<int>(value, new KeyValuePair<string, object?>("tenant", label));
    }

    IEnumerable<Measurement<double>> Observe(Func<TenantGauges, double> value, bool sum = false)
    {
        var groups = new Dictionary<string, (double Total, int Count)>(StringComparer.Ordinal);
        foreach (var gauges in _resident.Values)
        {
            double v = value(gauges);
            if (!double.IsFinite(v)) continue;
            groups.TryGetValue(gauges.Label, out var g);
            groups[gauges.Label] = (g.Total + v, g.Count + 1);
        }
        foreach (var (label, (total, count)) in groups)
            yield return new Measurement<double>(sum ? total : total / count, new KeyValuePair<string, object?>("tenant", label));
    }
}

/// <summary>One resident tenant's gauge values: a window of prequential outcomes and the latest filter diagnostics.</summary>
public sealed class TenantGauges(string label, Func<int> queueDepth, int window)
{
    readonly Lock _gate = new();
    readonly bool[] _correct = new bool[window];
    readonly double[] _loss = new double[window];
    int _count, _next;
    double _innovationNorm = double.NaN, _noiseTrace = double.NaN, _meanCovariance = double.NaN;

    public string Label { get; } = label;
    public Func<int> QueueDepth { get; } = queueDepth;

    public void Record(bool correct, double loss, double innovationNorm, double noiseTrace, double meanCovariance)
    {
        lock (_gate)
        {
            _correct[_next] = correct;
            _loss[_next] = loss;
            _next = (_next + 1) % _correct.Length;
            _count = Math.Min(_count + 1, _correct.Length);
            _innovationNorm = innovationNorm;
            _noiseTrace = noiseTrace;
            _meanCovariance = meanCovariance;
        }
    }

    public double Accuracy
    {
        get
        {
            lock (_gate)
            {
                if (_count == 0) return double.NaN;
                int correct = 0;
                for (int i = 0; i < _count; i++) if (_correct[i]) correct++;
                return (double)correct / _count;
            }
        }
    }

    /// <summary>Mean of the finite losses in the window.</summary>
    public double Loss
    {
        get
        {
            lock (_gate)
            {
                double total = 0;
                int finite = 0;
                for (int i = 0; i < _count; i++)
                    if (double.IsFinite(_loss[i])) { total += _loss[i]; finite++; }
                return finite == 0 ? double.NaN : total / finite;
            }
        }
    }

    public double InnovationNorm { get { lock (_gate) return _innovationNorm; } }
    public double NoiseTrace { get { lock (_gate) return _noiseTrace; } }
    public double MeanCovariance { get { lock (_gate) return _meanCovariance; } }
}
