using LoKO.Contracts.Validation;
using LoKO.Engine.Data;

namespace LoKO.Bench.Load;

/// <summary>One example as a client sends it: the text and its label name.</summary>
public sealed record LabeledText(string Text, string Label)
{
    /// <summary>Fortune texts of the categories <paramref name="labels"/> that fit the server's text limit, shuffled once (the same order every run).</summary>
    public static IReadOnlyList<LabeledText> Fortunes(IReadOnlyList<string> labels) =>
        [.. StreamOrder.Shuffle(FortuneCorpus.Load(DataPaths.FortunesDirectory(), labels), 7)
            .Where(f => f.Text.Length <= new InputLimits().MaxTextLength)
            .Select(f => new LabeledText(f.Text, f.Category))];
}
