using LoKO.Engine.Presets;
using LoKO.Engine.Text;

namespace LoKO.Engine.Tests.Preprocessing;

public sealed class TextEncoderTests
{
    private static TextEncoder NewEncoder(int maxLength = TextEncoder.DefaultMaxLength)
    {
        using var vocab = ModelAssets.OpenMiniLmVocab();
        return new TextEncoder(vocab, maxLength);
    }

    [Theory]
    [InlineData("Hello world", new long[] { 101, 7592, 2088, 102 })]
    [InlineData("HELLO  World!", new long[] { 101, 7592, 2088, 999, 102 })]
    [InlineData("The quick brown fox jumps over the lazy dog.",
        new long[] { 101, 1996, 4248, 2829, 4419, 14523, 2058, 1996, 13971, 3899, 1012, 102 })]
    [InlineData("Online fine-tuning, embeddings", // hyphen split, multi-piece word
        new long[] { 101, 3784, 2986, 1011, 17372, 1010, 7861, 8270, 4667, 2015, 102 })]
    [InlineData("unaffable tokenization", new long[] { 101, 14477, 20961, 3468, 19204, 3989, 102 })]
    // Accents stripped as bert-base-uncased does, precomposed or combining.
    [InlineData("Café", new long[] { 101, 7668, 102 })]
    [InlineData("Cafe\u0301 NAÏVE résumé École", new long[] { 101, 7668, 15743, 13746, 12431, 102 })]
    public void Encodes_known_sentences_to_bert_uncased_ids(string text, long[] expected)
    {
        var batch = NewEncoder().Encode([text]);

        Assert.Equal(1, batch.Batch);
        Assert.Equal(expected.Length, batch.SeqLen);
        Assert.Equal(expected, batch.InputIds);
        Assert.All(batch.AttentionMask, m => Assert.Equal(1L, m));
        Assert.All(batch.TokenTypeIds, t => Assert.Equal(0L, t));
    }

    [Fact]
    public void Vocabulary_with_crlf_lines_has_no_unknown_words_in_plain_english()
    {
        var encoder = NewEncoder();
        var ids = encoder.Tokenize("Computers are useless. They can only give you answers.");

        Assert.DoesNotContain(100, ids); // [UNK]
        Assert.Equal("computers are useless. they can only give you answers.",
            encoder.Decode(ids.Select(i => (long)i)));
    }

    [Fact]
    public void Pads_rows_to_the_longest_and_masks_the_padding()
    {
        var batch = NewEncoder().Encode(["Hello world", "The quick brown fox jumps over the lazy dog.", "dog"]);

        Assert.Equal(3, batch.Batch);
        Assert.Equal(12, batch.SeqLen);
        Assert.Equal(3 * 12, batch.InputIds.Length);
        Assert.Equal(3 * 12, batch.AttentionMask.Length);
        Assert.Equal(3 * 12, batch.TokenTypeIds.Length);

        Assert.Equal([101, 7592, 2088, 102, 0, 0, 0, 0, 0, 0, 0, 0], batch.InputIds[..12]);
        Assert.Equal([1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0], batch.AttentionMask[..12]);
        Assert.Equal([101, 3899, 102, 0, 0, 0, 0, 0, 0, 0, 0, 0], batch.InputIds[24..]);
        Assert.Equal([4, 12, 3], Enumerable.Range(0, 3).Select(batch.TokenCount));
        Assert.All(batch.TokenTypeIds, t => Assert.Equal(0L, t));
    }

    [Fact]
    public void Truncates_long_text_keeping_cls_and_sep()
    {
        var encoder = NewEncoder(maxLength: 8);
        var batch = encoder.Encode(["The quick brown fox jumps over the lazy dog.", "Hello world"]);

        Assert.Equal(8, batch.SeqLen);
        Assert.Equal([101, 1996, 4248, 2829, 4419, 14523, 2058, 102], batch.InputIds[..8]);
        Assert.Equal([1, 1, 1, 1, 1, 1, 1, 1], batch.AttentionMask[..8]);
        Assert.Equal([101, 7592, 2088, 102, 0, 0, 0, 0], batch.InputIds[8..]);
    }

    [Fact]
    public void Default_max_length_caps_a_long_fortune_at_128()
    {
        var text = string.Join(' ', Enumerable.Repeat("computers are useless", 100));
        var batch = NewEncoder().Encode([text]);

        Assert.Equal(128, batch.SeqLen);
        Assert.Equal(101, batch.InputIds[0]);
        Assert.Equal(102, batch.InputIds[127]);
        Assert.Equal(128, batch.TokenCount(0));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("\t\r\n")]
    public void Empty_text_is_rejected_naming_text(string text)
    {
        var encoder = NewEncoder();

        var single = Assert.Throws<ArgumentException>(() => encoder.Encode([text]));
        Assert.Equal("text", single.ParamName);
        var inBatch = Assert.Throws<ArgumentException>(() => encoder.Encode(["Hello world", text]));
        Assert.Equal("text", inBatch.ParamName);
        Assert.Contains("Text 1", inBatch.Message);
    }

    [Fact]
    public void Empty_batch_and_tiny_max_length_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => NewEncoder().Encode([]));
        Assert.Throws<ArgumentOutOfRangeException>(() => NewEncoder(maxLength: 1));
    }
}
