using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;

namespace LoKO.Server.Telemetry;

/// <summary>
/// The elapsed time of consecutive phases of one operation (an activation, a prediction, an eviction), for a Debug
/// log line that says where its time went. Marked by one flow at a time (an await chain, a compute closure in it).
/// </summary>
public sealed class PhaseClock
{
    /// <summary>A clock when <paramref name="logger"/> writes Debug lines, else null: predictions and activations pay nothing for it otherwise.</summary>
    public static PhaseClock? ForDebug(ILogger logger) => logger.IsEnabled(LogLevel.Debug) ? new PhaseClock() : null;

    readonly Stopwatch _clock = Stopwatch.StartNew();
    readonly StringBuilder _phases = new();
    TimeSpan _last;

    /// <summary>Ends the phase <paramref name="phase"/>: the time since the previous mark (or the start) is its own.</summary>
    public void Mark(string phase)
    {
        var now = _clock.Elapsed;
        if (_phases.Length > 0) _phases.Append(", ");
        _phases.Append(phase).Append(' ').Append((now - _last).TotalMilliseconds.ToString("F1", CultureInfo.InvariantCulture));
        _last = now;
    }

    public double TotalMs => _clock.Elapsed.TotalMilliseconds;

    /// <summary>Each phase and its milliseconds, in order.</summary>
    public override string ToString() => _phases.ToString();
}
