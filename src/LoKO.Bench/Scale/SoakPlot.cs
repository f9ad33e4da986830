using LoKO.Bench.Serving;
using ScottPlot;

namespace LoKO.Bench.Scale;

/// <summary>
/// The soak's samples against minutes, drawn as <see cref="Online.CurvePlot"/> draws its curves (ScottPlot, DejaVu Sans):
/// memory in MiB on the left axis (RSS, managed, native, and the native fit over the second half), the mean step time
/// per interval on the right, live TorchSharp tensors on a second right axis.
/// </summary>
static class SoakPlot
{
    public static void Save(string path, string title, IReadOnlyList<ServerSample> samples, LeastSquares nativeFit, double fitFromMinutes)
    {
        var plot = new Plot();
        plot.Font.Set("DejaVu Sans");
        double[] minutes = [.. samples.Select(s => s.Seconds / 60)];
        void Line(string label, IEnumerable<double> ys, IYAxis? axis = null)
        {
            var line = plot.Add.ScatterLine(minutes, [.. ys]);
            line.LegendText = label;
            line.LineWidth = 2;
            if (axis is not null) line.Axes.YAxis = axis;
        }
        Line("RSS MiB", samples.Select(s => SampleCsv.ToMb(s.RssBytes)));
        Line("managed (GC committed) MiB", samples.Select(s => s.ManagedCommittedBytes is { } b ? SampleCsv.ToMb(b) : double.NaN));
        Line("native (RSS − managed) MiB", samples.Select(s => s.NativeBytes is { } b ? SampleCsv.ToMb(b) : double.NaN));
        if (double.IsFinite(nativeFit.Slope))
        {
            double end = minutes.Length > 0 ? minutes[^1] : fitFromMinutes;
            var fit = plot.Add.ScatterLine(new[] { fitFromMinutes, end }, new[] { nativeFit.At(fitFromMinutes), nativeFit.At(end) });
            fit.LegendText = $"native fit, second half: {nativeFit.Slope:F2} MiB/min";
            fit.LinePattern = LinePattern.Dashed;
            fit.LineWidth = 2;
        }
        var steps = new List<double>();
        for (int i = 0; i < samples.Count; i++)
        {
            double n = i == 0 ? 0 : samples[i].StepCount - samples[i - 1].StepCount;
            steps.Add(n > 0 ? 1000 * (samples[i].StepSeconds - samples[i - 1].StepSeconds) / n : double.NaN);
        }
        Line("mean step ms (right)", steps, plot.Axes.Right);
        var tensorAxis = plot.Axes.AddRightAxis();
        tensorAxis.LabelText = "live tensors";
        Line("live TorchSharp tensors (far right)", samples.Select(s => s.TorchTensors is { } t ? (double)t : double.NaN), tensorAxis);
        plot.Title(title);
        plot.XLabel("minutes");
        plot.YLabel("MiB");
        plot.Axes.Right.Label.Text = "step ms";
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, 1200, 700);
    }
}
