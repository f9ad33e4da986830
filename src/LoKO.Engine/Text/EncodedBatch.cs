namespace LoKO.Engine.Text;

/// <summary>
/// A batch of tokenized texts in the layout BERT-style ONNX graphs take: each array is
/// row-major [Batch, SeqLen], rows padded with 0 to the longest row of the batch.
/// </summary>
public sealed record EncodedBatch(
    long[] InputIds,
    long[] AttentionMask,
    long[] TokenTypeIds,
    int Batch,
    int SeqLen)
{
    /// <summary>Number of real (unpadded) tokens in row <paramref name="row"/>, [CLS] and [SEP] included.</summary>
    public int TokenCount(int row)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, Batch);
        var count = 0;
        for (var t = 0; t < SeqLen; t++)
            count += (int)AttentionMask[row * SeqLen + t];
        return count;
    }
}
