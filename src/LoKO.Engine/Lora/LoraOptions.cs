namespace LoKO.Engine.Lora;

/// <summary>A tenant's LoRA settings. Null <see cref="Targets"/> means the preset's default sites.</summary>
public sealed record LoraOptions
{
    public int Rank { get; init; } = 8;
    public double Alpha { get; init; } = 16;
    public IReadOnlyList<string>? Targets { get; init; }

    public double Scale => Alpha / Rank;

    public void Validate()
    {
        if (Rank < 1 || Rank > 1024) throw new ArgumentOutOfRangeException("rank", Rank, "LoRA rank must be between 1 and 1024");
        if (!double.IsFinite(Alpha) || Alpha <= 0) throw new ArgumentOutOfRangeException("alpha", Alpha, "LoRA alpha must be a positive number");
        if (Targets is { Count: 0 }) throw new ArgumentException("LoRA targets, when given, must name at least one site glob", "targets");
    }
}
