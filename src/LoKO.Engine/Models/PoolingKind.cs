namespace LoKO.Engine.Models;

/// <summary>How the feature node's value becomes one vector per example.</summary>
public enum PoolingKind
{
    /// <summary>Text: the mean over the tokens the attention mask keeps, [B, T, H] → [B, H].</summary>
    Mean,
    /// <summary>Text: the first token's ([CLS]) vector, [B, T, H] → [B, H].</summary>
    Cls,
    /// <summary>Images: the mean over every spatial position, [B, C, …] → [B, C].</summary>
    GlobalAverage,
    /// <summary>The value as it is, flattened after the batch dimension.</summary>
    None,
}
