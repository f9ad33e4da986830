using System.Globalization;

namespace LoKO.Bench.Serving;

/// <summary>The samples of a Prometheus text exposition (<c>/metrics</c>): one <c>name{labels} value</c> per line.</summary>
public sealed class PrometheusText
{
    readonly List<(string Name, string Labels, double Value)> _samples;

    PrometheusText(List<(string, string, double)> samples) => _samples = samples;

    public static PrometheusText Parse(string text)
    {
        var samples = new List<(string, string, double)>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            int open = line.IndexOf('{'), close = line.LastIndexOf('}');
            int space = open >= 0 && close > open ? close + 1 : line.IndexOf(' ');
            if (space <= 0) continue;
            var name = open >= 0 && close > open ? line[..open] : line[..space];
            var labels = open >= 0 && close > open ? line[(open + 1)..close] : "";
            var value = line[space..].Trim().Split(' ')[0];
            if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)) samples.Add((name, labels, v));
        }
        return new PrometheusText(samples);
    }

    /// <summary>The sum over the series of <paramref name="name"/> whose label text passes <paramref name="labels"/>; null when there is none.</summary>
    public double? Sum(string name, Func<string, bool>? labels = null)
    {
        double sum = 0;
        bool any = false;
        foreach (var (n, l, v) in _samples)
        {
            if (n != name || (labels is not null && !labels(l))) continue;
            sum += v;
            any = true;
        }
        return any ? sum : null;
    }
}
