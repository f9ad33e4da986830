namespace LoKO.Engine.Filter;

/// <summary>
/// The named configurations of the LoKO filter. A tenant stores the name it was created with, so a later change
/// of <see cref="Default"/> never changes how an existing tenant learns.
/// </summary>
public static class LokoVariants
{
    /// <summary>The paper's filter (LOKO-ALGORITHM.md, steps 1–10): probabilities observed, one diagonal over θ, EMA noise.</summary>
    public const string Paper = "paper";

    /// <summary>The variant a tenant gets when it names none.</summary>
    public const string Default = Paper;

    public static IReadOnlyList<string> Names { get; } = [Paper];

    /// <summary>The options of a named variant; settings given with it override its values.</summary>
    public static LokoOptions Named(string name) => name.ToLowerInvariant() switch
    {
        Paper => LokoOptions.Paper,
        _ => throw new ArgumentException($"unknown filter variant '{name}': one of {string.Join(", ", Names)}", nameof(name)),
    };
}
