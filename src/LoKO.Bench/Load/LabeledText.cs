namespace LoKO.Bench.Load;

/// <summary>One example as a client sends it: the text and its label name.</summary>
public sealed record LabeledText(string Text, string Label);
