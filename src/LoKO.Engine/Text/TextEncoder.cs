using Microsoft.ML.Tokenizers;

namespace LoKO.Engine.Text;

/// <summary>
/// BERT WordPiece encoding (lower-cased, bert-base-uncased style) of texts into
/// [CLS] tokens [SEP] rows for MiniLM-like encoders.
/// </summary>
public sealed class TextEncoder
{
    public const int DefaultMaxLength = 128;

    private readonly BertTokenizer _tokenizer;

    /// <param name="vocab">WordPiece vocabulary, one token a line (read now; the caller keeps ownership).</param>
    /// <param name="maxLength">Longest row, [CLS] and [SEP] included.</param>
    public TextEncoder(Stream vocab, int maxLength = DefaultMaxLength)
    {
        ArgumentNullException.ThrowIfNull(vocab);
        // Room for [CLS] and [SEP] at least.
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 2);
        _tokenizer = BertTokenizer.Create(vocab, new BertOptions
        {
            LowerCaseBeforeTokenization = true,
            // bert-base-uncased strips accents whenever it lower-cases ("Café" → "cafe"): this drops
            // separate combining marks, AccentFolding handles precomposed letters.
            RemoveNonSpacingMarks = true,
        });
        MaxLength = maxLength;
    }

    public int MaxLength { get; }

    public int ClsId => _tokenizer.ClassificationTokenId;
    public int SepId => _tokenizer.SeparatorTokenId;
    public int PadId => _tokenizer.PaddingTokenId;

    /// <summary>The WordPiece ids of <paramref name="text"/>, without special tokens or truncation.</summary>
    public IReadOnlyList<int> Tokenize(string text)
    {
        RequireText(text);
        return _tokenizer.EncodeToIds(AccentFolding.Fold(text), addSpecialTokens: false);
    }

    public string Decode(IEnumerable<long> ids) =>
        _tokenizer.Decode(ids.Select(id => checked((int)id)), skipSpecialTokens: true);

    public EncodedBatch Encode(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (texts.Count == 0)
            throw new ArgumentException("At least one text is needed.", nameof(texts));

        var rows = new IReadOnlyList<int>[texts.Count];
        var seqLen = 0;
        for (var i = 0; i < texts.Count; i++)
        {
            RequireText(texts[i], i);
            IReadOnlyList<int> ids = _tokenizer.EncodeToIds(AccentFolding.Fold(texts[i]), addSpecialTokens: false);
            // Truncate the word pieces themselves (as Hugging Face does), keeping [SEP] last.
            rows[i] = ids.Count > MaxLength - 2 ? ids.Take(MaxLength - 2).ToArray() : ids;
            seqLen = Math.Max(seqLen, rows[i].Count + 2);
        }

        var inputIds = new long[texts.Count * seqLen];
        var mask = new long[texts.Count * seqLen];
        if (PadId != 0)
            Array.Fill(inputIds, PadId);
        for (var i = 0; i < rows.Length; i++)
        {
            var at = i * seqLen;
            inputIds[at] = ClsId;
            for (var t = 0; t < rows[i].Count; t++)
                inputIds[at + 1 + t] = rows[i][t];
            inputIds[at + 1 + rows[i].Count] = SepId;
            mask.AsSpan(at, rows[i].Count + 2).Fill(1);
        }
        return new EncodedBatch(inputIds, mask, new long[texts.Count * seqLen], texts.Count, seqLen);
    }

    private static void RequireText(string text, int? index = null)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            var which = index is { } i ? $"Text {i}" : "The text";
            throw new ArgumentException($"{which} is empty or only white space.", nameof(text));
        }
    }
}
