namespace LoKO.Server.Tests;

/// <summary>Short two-topic texts ("computers" / "food", alternating), distinct and in a fixed order.</summary>
public static class TopicExamples
{
    static readonly string[] Computers =
        ["printer driver", "database server", "network cable", "laptop battery", "kernel update", "graphics card", "usb port", "wifi router"];
    static readonly string[] Food =
        ["olive oil", "bowl of ramen", "grilled cheese", "tomato soup", "apple pie", "fried rice", "lentil curry", "banana bread"];
    static readonly string[] Verbs = ["fix", "check", "buy", "love", "replace", "try", "clean", "share"];

    public static (string Text, string Label)[] Make(int count) => Enumerable.Range(0, count).Select(i =>
    {
        bool food = i % 2 == 1;
        var nouns = food ? Food : Computers;
        return ($"{Verbs[i / 2 % Verbs.Length]} the {nouns[i / 2 * 3 % nouns.Length]} number {i}", food ? "food" : "computers");
    }).ToArray();
}
