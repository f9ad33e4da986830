using System.Globalization;
using System.Text;
using System.Text.Json;

namespace LoKO.Bench.Online;

/// <summary>
/// `compare`: one table and one curves plot from runs of several `accuracy` invocations on the same stream (full
/// runs are split across processes so that two can share the machine). It reads each folder's results.json and
/// curves.csv and keeps the runs named by --labels, in that order; `LABEL->NAME` shows a run under another name (an
/// older run's `loko` was the paper's filter).
/// </summary>
public static class CompareCommand
{
    public const string Usage = "compare --runs DIR[,DIR…] --labels 'LABEL[->NAME]|…' --out DIR [--title TEXT]";

    public static int Run(BenchArgs args)
    {
        args.Allow("runs", "labels", "out", "title");
        var dirs = args.List("runs", []);
        var labels = args.String("labels")?.Split('|') ?? throw new ArgumentException("--labels is required ('|'-separated run labels)");
        var outDir = args.String("out") ?? throw new ArgumentException("--out is required");
        if (dirs.Count == 0) throw new ArgumentException("--runs is required");

        var runs = new Dictionary<string, (RunSummary Summary, IReadOnlyList<double> Curve, int Window, int Tail, int Streamed, string Dir)>();
        foreach (var dir in dirs)
        {
            using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "results.json")));
            int window = json.RootElement.GetProperty("window").GetInt32(), tail = json.RootElement.GetProperty("tail").GetInt32();
            int streamed = json.RootElement.GetProperty("streamed").GetInt32();
            var curves = ReadCurves(Path.Combine(dir, "curves.csv"));
            foreach (var run in json.RootElement.GetProperty("runs").EnumerateArray())
            {
                var summary = run.Deserialize<RunSummary>(Format.Json)!;
                runs[summary.Label] = (summary, curves.GetValueOrDefault(summary.Label, []), window, tail, streamed, dir);
            }
        }
        var picked = labels.Select(spec =>
        {
            var parts = spec.Split("->", 2);
            var run = runs.TryGetValue(parts[0], out var r) ? r : throw new ArgumentException($"--labels: no run labelled '{parts[0]}' in {string.Join(", ", dirs)}");
            return parts.Length == 1 ? run : run with { Summary = run.Summary with { Label = parts[1] } };
        }).ToList();
        if (picked.Select(p => p.Streamed).Distinct().Count() > 1) throw new ArgumentException("--runs: the runs streamed different numbers of examples");

        Directory.CreateDirectory(outDir);
        int w = picked[0].Window, t = picked[0].Tail;
        var sb = new StringBuilder($"# {args.String("title") ?? "Comparison"}\n\n");
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"- {picked[0].Streamed:N0} examples streamed; each row is one run, from: {string.Join(", ", picked.Select(p => p.Dir).Distinct().Select(d => $"`{Path.GetFileName(Path.TrimEndingDirectorySeparator(d))}`"))}"));
        sb.AppendLine();
        AccuracyCommand.Table(sb, [.. picked.Select(p => p.Summary)], w, t);
        File.WriteAllText(Path.Combine(outDir, "report.md"), sb.ToString());
        CurvePlot.Save(Path.Combine(outDir, "curves.png"), args.String("title") ?? "online accuracy", w, picked[0].Streamed, picked.Select(p => (p.Summary.Label, p.Curve)));
        Console.Error.WriteLine($"compare: wrote {Path.GetFullPath(outDir)}/report.md and curves.png");
        Console.WriteLine(JsonSerializer.Serialize(new { command = "compare", runs = picked.Select(p => p.Summary) }, Format.Json));
        return 0;
    }

    static Dictionary<string, IReadOnlyList<double>> ReadCurves(string path)
    {
        var lines = File.ReadAllLines(path);
        var header = lines[0].Split(',').Skip(1).Select(h => h.Trim('"')).ToList();
        var columns = header.Select(_ => new List<double>()).ToList();
        foreach (var line in lines.Skip(1))
        {
            var cells = line.Split(',');
            for (int i = 0; i < header.Count; i++)
                if (i + 1 < cells.Length && cells[i + 1].Length > 0) columns[i].Add(double.Parse(cells[i + 1], CultureInfo.InvariantCulture));
        }
        return header.Select((h, i) => (h, (IReadOnlyList<double>)columns[i])).ToDictionary(p => p.h, p => p.Item2);
    }
}
