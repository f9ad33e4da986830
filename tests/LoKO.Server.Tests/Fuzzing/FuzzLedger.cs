using System.Collections.Concurrent;
using System.Text;

namespace LoKO.Server.Tests.Fuzzing;

/// <summary>
/// What a fuzz run saw: every answer by API, route and status; every acknowledged example (tenant and sequence); every
/// fault (a 5xx, a gRPC status that means a server fault, a client that could not get an answer) with the request that
/// caused it.
/// </summary>
public sealed class FuzzLedger
{
    readonly ConcurrentDictionary<(string Api, string Route, string Status), int> _answers = new();
    readonly ConcurrentDictionary<string, ConcurrentDictionary<long, string>> _acknowledged = new();
    readonly ConcurrentQueue<string> _faults = new();
    readonly ConcurrentQueue<string> _unnamed = new();
    readonly ConcurrentQueue<string> _restarted = new();
    readonly ConcurrentDictionary<(string Api, string Route), (TimeSpan Total, TimeSpan Max)> _times = new();
    int _requests;

    public int Requests => _requests;
    public IReadOnlyCollection<string> Faults => _faults;

    public void Answer(string api, string route, string status, TimeSpan took)
    {
        Interlocked.Increment(ref _requests);
        _answers.AddOrUpdate((api, route, status), 1, (_, n) => n + 1);
        _times.AddOrUpdate((api, route), (took, took), (_, t) => (t.Total + took, took > t.Max ? took : t.Max));
    }

    public void Fault(string what) => _faults.Enqueue(what);

    /// <summary>A call sent again because its connection was closed before the request left the client.</summary>
    public void Restarted(string what) => _restarted.Enqueue(what);

    public IReadOnlyCollection<string> RestartedCalls => _restarted;

    /// <summary>A client mistake answered without saying what was wrong (no ProblemDetails, or a 400 naming no field).</summary>
    public void Unnamed(string what) => _unnamed.Enqueue(what);

    public IReadOnlyCollection<string> UnnamedErrors => _unnamed;

    /// <summary>An acknowledgement of an accepted example (a repeat acknowledges its original sequence again).</summary>
    public void Acknowledged(string tenantId, long sequence, string via) =>
        _acknowledged.GetOrAdd(tenantId, _ => new()).TryAdd(sequence, via);

    public IReadOnlyCollection<long> Sequences(string tenantId) =>
        _acknowledged.TryGetValue(tenantId, out var s) ? s.Keys.Order().ToList() : [];

    /// <summary>How many acknowledged sequences of <paramref name="tenantId"/> came through <paramref name="via"/>'s API.</summary>
    public int AcknowledgedVia(string tenantId, string via) =>
        _acknowledged.TryGetValue(tenantId, out var s) ? s.Values.Count(v => v.StartsWith(via, StringComparison.Ordinal)) : 0;

    public int Count(string api, string route) => _answers.Where(a => a.Key.Api == api && a.Key.Route == route).Sum(a => a.Value);

    /// <summary>Counts by status for each API, then by route and status.</summary>
    public string Histogram()
    {
        var text = new StringBuilder();
        foreach (var api in _answers.GroupBy(a => a.Key.Api).OrderBy(g => g.Key))
        {
            text.AppendLine($"{api.Key}: {api.Sum(a => a.Value)} answers");
            foreach (var status in api.GroupBy(a => a.Key.Status).OrderBy(g => g.Key, StringComparer.Ordinal))
                text.AppendLine($"  {status.Key,-24} {status.Sum(a => a.Value),7}");
        }
        text.AppendLine("By route (mean and slowest answer):");
        foreach (var route in _answers.GroupBy(a => (a.Key.Api, a.Key.Route)).OrderBy(g => g.Key.Api).ThenBy(g => g.Key.Route, StringComparer.Ordinal))
        {
            var (total, max) = _times[route.Key];
            text.AppendLine($"  {route.Key.Api} {route.Key.Route} ({total.TotalMilliseconds / route.Sum(a => a.Value):F0} ms, {max.TotalMilliseconds:F0} ms): " +
                            string.Join(", ", route.OrderBy(a => a.Key.Status, StringComparer.Ordinal).Select(a => $"{a.Key.Status} ×{a.Value}")));
        }
        return text.ToString();
    }
}
