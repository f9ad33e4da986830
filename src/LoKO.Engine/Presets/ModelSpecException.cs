namespace LoKO.Engine.Presets;

/// <summary>A <see cref="ModelSpec"/> that cannot be served, naming the setting at fault (Path, Vocab, Image:Size, Features:Node, …).</summary>
public sealed class ModelSpecException(string key, string message, Exception? inner = null) : Exception(message, inner)
{
    public string Key { get; } = key;
}
