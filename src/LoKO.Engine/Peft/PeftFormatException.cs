namespace LoKO.Engine.Peft;

/// <summary>A PEFT adapter that cannot be read or written; <see cref="Field"/> names the part at fault (e.g. `adapter.r`).</summary>
public sealed class PeftFormatException(string field, string message) : Exception(message)
{
    public string Field { get; } = field;
}
