using LoKO.Engine.Data;

namespace LoKO.Engine.Tests.Preprocessing;

public sealed class DataSetTests
{
    [Fact]
    public void Mnist_has_ten_thousand_digits_about_a_thousand_per_class()
    {
        var digits = MnistDigits.Load();

        Assert.Equal(10_000, digits.Count);
        var perClass = digits.GroupBy(d => d.Label).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(Enumerable.Range(0, 10), perClass.Keys.Order());
        Assert.All(perClass.Values, n => Assert.InRange(n, 850, 1150));
        Assert.Equal(1001, perClass[0]);
        Assert.Equal(1127, perClass[1]);
    }

    [Fact]
    public void Mnist_pixels_are_whole_numbers_from_0_to_255_with_dark_background()
    {
        var digits = MnistDigits.Load();

        Assert.All(digits, d => Assert.Equal(MnistDigits.PixelCount, d.Pixels.Length));
        var all = digits.Take(500).SelectMany(d => d.Pixels).ToArray();
        Assert.Equal(0f, all.Min());
        Assert.Equal(255f, all.Max());
        Assert.All(all, v => Assert.Equal(MathF.Round(v), v));
        // Ink covers roughly a fifth of an MNIST digit: mean intensity about 33 of 255.
        Assert.InRange(digits.Average(d => d.Pixels.Average()), 25, 40);
        Assert.All(digits.Take(50), d => Assert.Equal(0f, d.Pixels[0]));
    }

    // The counts strfile wrote into the package's .dat indexes (numstr). Counting "%" lines
    // instead gives one fewer for computers and law, whose last entry has no closing "%".
    [Fact]
    public void Fortunes_default_categories_have_the_packaged_counts()
    {
        var fortunes = FortuneCorpus.Load();

        var counts = fortunes.GroupBy(f => f.Category).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(FortuneCorpus.DefaultCategories.Order(), counts.Keys.Order());
        Assert.Equal(1051, counts["computers"]);
        Assert.Equal(625, counts["science"]);
        Assert.Equal(703, counts["politics"]);
        Assert.Equal(206, counts["law"]);
        Assert.Equal(203, counts["education"]);
        Assert.Equal(198, counts["food"]);
        Assert.Equal(465, counts["art"]);
        Assert.Equal(630, counts["work"]);
        Assert.All(fortunes, f => Assert.False(string.IsNullOrWhiteSpace(f.Text)));
        Assert.All(fortunes, f => Assert.Equal(f.Text.Trim(), f.Text));
        Assert.DoesNotContain(fortunes, f => f.Text.Split('\n').Contains("%"));
    }

    [Fact]
    public void Fortunes_load_a_chosen_category()
    {
        var computers = FortuneCorpus.Load(DataPaths.FortunesDirectory(), ["computers"]);

        Assert.Equal(1051, computers.Count);
        Assert.All(computers, f => Assert.Equal("computers", f.Category));
        Assert.Throws<FileNotFoundException>(() => FortuneCorpus.Load(DataPaths.FortunesDirectory(), ["no-such-topic"]));
        Assert.Throws<ArgumentException>(() => FortuneCorpus.Load(DataPaths.FortunesDirectory(), ["../mnist/0.json"]));
    }

    [Fact]
    public void Fortune_entries_are_split_on_percent_lines_trimmed_and_never_empty()
    {
        var entries = FortuneCorpus.Parse("%\n  First one.\n  Two lines.\n%\n\n%\r\nSecond\r\n%\nThird").ToArray();

        Assert.Equal(["First one.\n  Two lines.", "Second", "Third"], entries);
    }

    [Fact]
    public void Shuffle_is_deterministic_and_mixes_the_classes()
    {
        var digits = MnistDigits.Load();

        var a = StreamOrder.Shuffle(digits, seed: 42);
        var b = StreamOrder.Shuffle(digits, seed: 42);
        var c = StreamOrder.Shuffle(digits, seed: 43);

        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal(digits.Count, a.Count);
        Assert.Equal(digits.ToHashSet(), a.ToHashSet());
        // Every class shows up within the first 100 of the stream.
        Assert.Equal(10, a.Take(100).Select(d => d.Label).Distinct().Count());
        // Pinned so runs stay reproducible across machines; the same SplitMix64 Fisher–Yates
        // written separately in Python gives this order.
        Assert.Equal([2, 5, 4, 3, 7, 6, 0, 1], StreamOrder.Shuffle(Enumerable.Range(0, 8).ToArray(), seed: 1));
    }

    [Fact]
    public void Data_folder_is_found_at_the_repository_root()
    {
        var root = DataPaths.DataDirectory();

        Assert.Equal("data", Path.GetFileName(root));
        Assert.True(File.Exists(Path.Combine(root, "..", "Directory.Packages.props")));
        Assert.True(Directory.Exists(DataPaths.MnistDirectory()), $"Run scripts/fetch-data.sh: no {root}/mnist");
        Assert.True(Directory.Exists(DataPaths.FortunesDirectory()), $"Run scripts/fetch-data.sh: no {root}/fortunes");
    }

    [Fact]
    public void Data_folder_setting_wins_and_a_missing_root_is_explained()
    {
        var scratch = Directory.CreateTempSubdirectory("loko-paths-");
        try
        {
            var nested = Directory.CreateDirectory(Path.Combine(scratch.FullName, "repo", "bin", "Debug"));
            File.WriteAllText(Path.Combine(scratch.FullName, "repo", "LoKO.sln"), "");

            Assert.Equal(Path.Combine(scratch.FullName, "elsewhere"),
                DataPaths.Resolve(Path.Combine(scratch.FullName, "elsewhere"), nested.FullName));
            Assert.Equal(Path.Combine(scratch.FullName, "repo", "data"), DataPaths.Resolve(null, nested.FullName));
            Assert.Equal(Path.Combine(scratch.FullName, "repo", "data"), DataPaths.Resolve("  ", nested.FullName));

            File.Delete(Path.Combine(scratch.FullName, "repo", "LoKO.sln"));
            var e = Assert.Throws<DirectoryNotFoundException>(() => DataPaths.Resolve(null, nested.FullName));
            Assert.Contains(DataPaths.EnvironmentVariable, e.Message);
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    [Fact]
    public void Missing_data_folder_says_how_to_fetch_it()
    {
        var missing = Path.Combine(Path.GetTempPath(), "loko-no-such-data-" + Guid.NewGuid());

        var e = Assert.Throws<DirectoryNotFoundException>(() => MnistDigits.Load(missing));
        Assert.Contains("fetch-data.sh", e.Message);
        Assert.Throws<DirectoryNotFoundException>(() => FortuneCorpus.Load(missing));
    }
}
