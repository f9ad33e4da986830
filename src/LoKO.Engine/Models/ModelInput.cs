using LoKO.Engine.Imaging;

namespace LoKO.Engine.Models;

/// <summary>One example's raw input, before the preset encodes it for the graph.</summary>
public abstract record ModelInput;

public sealed record TextInput(string Text) : ModelInput;

public sealed record ImageInput(RgbImage Image) : ModelInput;
