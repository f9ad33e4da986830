using ScottPlot;

namespace LoKO.Bench.Online;

/// <summary>Windowed accuracy against examples seen, one line per run.</summary>
public static class CurvePlot
{
    public static void Save(string path, string title, int window, int examples, IEnumerable<(string Label, IReadOnlyList<double> Curve)> lines)
    {
        var plot = new Plot();
        plot.Font.Set("DejaVu Sans");
        foreach (var (label, curve) in lines)
        {
            if (curve.Count == 0) continue;
            // Point k is the window ending at example k + window (1-based).
            double[] xs = [.. Enumerable.Range(0, curve.Count).Select(k => (double)(k + window))];
            var line = plot.Add.ScatterLine(xs, [.. curve]);
            line.LegendText = label;
            line.LineWidth = 2;
            if (curve.Count == 1) line.MarkerSize = 8;
        }
        plot.Title(title);
        plot.XLabel("examples seen");
        plot.YLabel($"accuracy over the last {window} examples");
        plot.Axes.SetLimits(0, Math.Max(examples, window) * 1.02, 0, 1.02);
        plot.ShowLegend(Alignment.LowerRight);
        plot.SavePng(path, 1000, 600);
    }
}
