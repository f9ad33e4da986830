using LoKO.Engine.Data;

namespace LoKO.Engine.Tests.Preprocessing;

public sealed class DebianPackagesTests
{
    // Read once for the tests that only look at the whole file.
    private static readonly Lazy<IReadOnlyList<DebianPackage>> All = new(() => DebianPackages.Load());

    // Measured on the file scripts/fetch-data.sh built from Debian 12.15 (bookworm main, amd64):
    // science 1653, games 1106, sound 834, graphics 677, web 470, math 436, mail 365, editors 338,
    // database 246, electronics 198; 6,323 in all. Point releases move a few packages, so ranges.
    [Theory]
    [InlineData("science", 1550, 1750)]
    [InlineData("games", 1040, 1170)]
    [InlineData("sound", 780, 890)]
    [InlineData("graphics", 630, 720)]
    [InlineData("web", 440, 500)]
    [InlineData("math", 410, 465)]
    [InlineData("mail", 340, 390)]
    [InlineData("editors", 315, 360)]
    [InlineData("database", 230, 265)]
    [InlineData("electronics", 185, 215)]
    public void Each_default_section_has_its_measured_size(string section, int min, int max)
    {
        Assert.InRange(All.Value.Count(p => p.Section == section), min, max);
    }

    [Fact]
    public void The_stream_is_the_ten_sections_sorted_unique_and_without_markup()
    {
        var packages = All.Value;

        Assert.Equal(DebianPackages.DefaultSections.Order(), packages.Select(p => p.Section).Distinct().Order());
        Assert.InRange(packages.Count, 6000, 6650);
        var names = packages.Select(p => p.Package).ToList();
        Assert.Equal(names.Order(StringComparer.Ordinal), names);
        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.Equal(packages.Count, packages.Select(p => p.Text).Distinct().Count());
        // Short description, then the long one from Translation-en, one line per paragraph.
        Assert.All(packages, p =>
        {
            var lines = p.Text.Split('\n');
            Assert.All(lines, line => Assert.False(string.IsNullOrWhiteSpace(line), $"{p.Package}: blank line"));
            Assert.All(lines, line => Assert.Equal(line.Trim(), line));
            Assert.DoesNotContain(".", lines);
        });
        Assert.True(packages.Count(p => p.Text.Contains('\n')) > 0.95 * packages.Count, "most packages should have a long description");
    }

    [Fact]
    public void Known_packages_carry_their_section_and_both_descriptions()
    {
        var byName = All.Value.ToDictionary(p => p.Package);

        var vim = byName["vim"];
        Assert.Equal("editors", vim.Section);
        Assert.StartsWith("Vi IMproved - enhanced vi editor\nVim is an almost compatible version of the UNIX editor Vi.", vim.Text);
        Assert.Equal("math", byName["gnuplot"].Section);
        Assert.Equal("games", byName["0ad"].Section);
        Assert.Equal("mail", byName["mutt"].Section);
        Assert.Equal("graphics", byName["gimp"].Section);
        // Identical texts keep the first package by name: jackd2 repeats jackd1's description.
        Assert.Equal("sound", byName["jackd1"].Section);
        Assert.False(byName.ContainsKey("jackd2"));
        // A text found under two sections (math's apcalc and mail's offlineimap are both
        // "transitional package") is dropped from both.
        Assert.False(byName.ContainsKey("apcalc"));
        Assert.False(byName.ContainsKey("offlineimap"));
    }

    [Fact]
    public void Load_keeps_only_the_chosen_sections_in_file_order()
    {
        var chosen = DebianPackages.Load(DataPaths.DebianDirectory(), ["editors", "mail"]);

        Assert.Equal(All.Value.Where(p => p.Section is "editors" or "mail"), chosen);
        Assert.Contains(chosen, p => p.Section == "editors");
        Assert.Contains(chosen, p => p.Section == "mail");
    }

    [Fact]
    public void Missing_data_and_unknown_sections_are_explained()
    {
        var missing = Path.Combine(Path.GetTempPath(), "loko-no-such-data-" + Guid.NewGuid());
        Assert.Contains("fetch-data.sh", Assert.Throws<DirectoryNotFoundException>(() => DebianPackages.Load(missing)).Message);

        var empty = Directory.CreateTempSubdirectory("loko-debian-");
        try
        {
            Assert.Contains("fetch-data.sh", Assert.Throws<FileNotFoundException>(() => DebianPackages.Load(empty.FullName)).Message);
        }
        finally
        {
            empty.Delete(recursive: true);
        }

        var e = Assert.Throws<ArgumentException>(() => DebianPackages.Load(DataPaths.DebianDirectory(), ["contrib/games"]));
        Assert.Contains("contrib/games", e.Message);
    }

    [Theory]
    [InlineData("""{"package": "a", "section": "web"}""", "line 1", "'text'")]
    [InlineData("""{"package": "a", "section": "web", "text": "x"}""" + "\n\n" + """{"package": "b", "section": "", "text": "y"}""", "line 3", "'section'")]
    [InlineData("""{"package": "a", "section": "web", "text": "x" """, "line 1", "not valid JSON")]
    public void Malformed_lines_name_their_number_and_field(string content, string line, string field)
    {
        var e = Assert.Throws<InvalidDataException>(() => DebianPackages.Parse(content.Split('\n')));
        Assert.Contains(line, e.Message);
        Assert.Contains(field, e.Message);
    }

    [Fact]
    public void Parse_reads_fields_in_file_order()
    {
        var packages = DebianPackages.Parse(["""{"package":"b","section":"web","text":"two\nlines"}""", "", """{"package":"a","section":"math","text":"one"}"""]);

        Assert.Equal([new DebianPackage("b", "web", "two\nlines"), new DebianPackage("a", "math", "one")], packages);
    }
}
