namespace LoKO.Engine.Data;

/// <summary>One 28×28 grayscale digit: row-major pixels, 0 (background) to 255 (ink).</summary>
public sealed record LabeledDigit(float[] Pixels, int Label);
