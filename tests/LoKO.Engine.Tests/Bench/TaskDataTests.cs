using LoKO.Bench.Tasks;
using LoKO.Engine.Data;
using LoKO.Engine.Evaluation;
using LoKO.Engine.Models;
using LoKO.Engine.Presets;

namespace LoKO.Engine.Tests.Bench;

public class TaskDataTests
{
    static List<LabeledExample> Examples(params int[] perClass) =>
        [.. perClass.SelectMany((n, label) => Enumerable.Range(0, n).Select(i => new LabeledExample(new TextInput($"{label}-{i}"), label, $"c{label}")))];

    [Fact]
    public void ProportionalSharesGoToTheLargestRemainders()
    {
        Assert.Equal([5, 3, 2], StratifiedSplit.Proportional([50, 30, 20], 10));
        Assert.Equal([2, 1, 1], StratifiedSplit.Proportional([34, 33, 33], 4));
        Assert.Equal([1, 1, 0], StratifiedSplit.Proportional([1, 1, 1], 2));
    }

    [Fact]
    public void AHeldOutCountIsStratifiedDisjointFromTheStreamAndSeeded()
    {
        var all = Examples(60, 30, 10);
        var (stream, heldOut) = StratifiedSplit.Split(all, count: 20, fraction: 0.15, seed: 3);

        Assert.Equal(20, heldOut.Count);
        Assert.Equal([12, 6, 2], heldOut.GroupBy(e => e.Label).OrderBy(g => g.Key).Select(g => g.Count()));
        Assert.Equal(80, stream.Count);
        Assert.Empty(stream.Intersect(heldOut));
        Assert.Equal(all.Count, stream.Concat(heldOut).Distinct().Count());

        var again = StratifiedSplit.Split(all, 20, 0.15, seed: 3);
        Assert.Equal(stream, again.Stream);
        Assert.Equal(heldOut, again.HeldOut);
        var other = StratifiedSplit.Split(all, 20, 0.15, seed: 4);
        Assert.NotEqual(stream, other.Stream);
        // The stream is shuffled, not left grouped by class.
        Assert.NotEqual(stream.OrderBy(e => e.Label).ThenBy(e => ((TextInput)e.Input).Text), stream);
    }

    [Fact]
    public void WithoutACountEachClassGivesItsFraction()
    {
        var (_, heldOut) = StratifiedSplit.Split(Examples(40, 20, 10), count: null, fraction: 0.15, seed: 1);
        Assert.Equal([6, 3, 2], heldOut.GroupBy(e => e.Label).OrderBy(g => g.Key).Select(g => g.Count())); // 1.5 rounds up
    }

    [Fact]
    public void DebianIsTenSectionsThroughMiniLmWithFifteenPercentOfEachHeldOut()
    {
        var task = TaskData.Load(new TaskSettings { Task = "debian" });

        Assert.Equal(ModelPresets.MiniLmL6, task.Preset);
        Assert.Equal(DebianPackages.DefaultSections, task.Classes);
        var sizes = task.Stream.Concat(task.HeldOut).GroupBy(e => e.Label).OrderBy(g => g.Key).Select(g => g.Count()).ToArray();
        Assert.Equal(10, sizes.Length);
        Assert.Equal(DebianPackages.Load().Count, sizes.Sum());
        var held = task.HeldOut.GroupBy(e => e.Label).OrderBy(g => g.Key).Select(g => g.Count());
        Assert.Equal(sizes.Select(n => (int)Math.Round(0.15 * n, MidpointRounding.AwayFromZero)), held);
        Assert.All(task.Stream.Concat(task.HeldOut), e => Assert.Equal(task.Classes[e.Label], e.LabelName));
        // Texts are unique in the file, so no held-out text is also streamed.
        var heldTexts = task.HeldOut.Select(e => ((TextInput)e.Input).Text).ToHashSet();
        Assert.DoesNotContain(task.Stream, e => heldTexts.Contains(((TextInput)e.Input).Text));
        Assert.True(task.Stream.Take(100).Select(e => e.Label).Distinct().Count() >= 8, "the stream is shuffled across sections");

        var capped = TaskData.Load(new TaskSettings { Task = "debian", Limit = 20, HoldOut = 300 });
        Assert.Equal(20, capped.Stream.Count);
        Assert.Equal(300, capped.HeldOut.Count);
        Assert.Throws<ArgumentException>(() => TaskData.Load(new TaskSettings { Task = "debian", Preset = ModelPresets.ResNet18 }));
    }

    [Fact]
    public void JsonlReadsTextAndPixelsWithSortedLabels()
    {
        var text = JsonlDataset.Read(new StringReader("""
            {"text": "the compiler crashed", "label": "tech"}

            {"text": "bake for forty minutes", "label": "food"}
            {"text": "segfault again", "label": "tech"}
            """), Modality.Text);
        Assert.Equal(["food", "tech"], text.Classes);
        Assert.Equal([1, 0, 1], text.Examples.Select(e => e.Label));
        Assert.Equal("bake for forty minutes", ((TextInput)text.Examples[1].Input).Text);

        var images = JsonlDataset.Read(new StringReader("""
            {"pixels": [0, 255, 128, 64], "width": 2, "height": 2, "label": 7}
            {"pixels": [255, 0, 0, 0, 255, 0], "width": 2, "height": 1, "label": 3}
            """), Modality.Image);
        Assert.Equal(["3", "7"], images.Classes);
        var gray = ((ImageInput)images.Examples[0].Input).Image;
        Assert.Equal([0, 0, 0, 255, 255, 255], gray.Pixels.Take(6));
        var rgb = ((ImageInput)images.Examples[1].Input).Image;
        Assert.Equal([255, 0, 0, 0, 255, 0], rgb.Pixels);
    }

    [Theory]
    [InlineData("""{"text": "fine", "label": "a"}""" + "\n" + """{"text": "no label"}""", Modality.Text, "line 2", "'label'")]
    [InlineData("""{"text": "fine", "label": "a"}""" + "\n\n" + """{"text": 5, "label": "b"}""", Modality.Text, "line 3", "'text'")]
    [InlineData("{\"text\": \"fine\", \"label\": \"a\"", Modality.Text, "line 1", "not valid JSON")]
    [InlineData("""{"pixels": [1, 2, 3], "width": 2, "height": 2, "label": "a"}""", Modality.Image, "line 1", "'pixels'")]
    [InlineData("""{"pixels": [1, 2, 300, 4], "width": 2, "height": 2, "label": "a"}""", Modality.Image, "line 1", "'pixels'")]
    [InlineData("""{"pixels": [1, 2, 3, 4], "width": 0, "height": 2, "label": "a"}""", Modality.Image, "line 1", "'width'")]
    [InlineData("""{"text": "words", "label": "a"}""", Modality.Image, "line 1", "'pixels'")]
    public void JsonlErrorsNameTheLineAndField(string content, Modality modality, string line, string field)
    {
        var e = Assert.Throws<InvalidDataException>(() => JsonlDataset.Read(new StringReader(content), modality));
        Assert.Contains(line, e.Message);
        Assert.Contains(field, e.Message);
    }
}
