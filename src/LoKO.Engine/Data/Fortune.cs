namespace LoKO.Engine.Data;

/// <summary>One entry of the Debian fortunes collection and the category file it came from.</summary>
public sealed record Fortune(string Text, string Category);
