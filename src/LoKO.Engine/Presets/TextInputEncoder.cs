using LoKO.Engine.Models;
using LoKO.Engine.Text;
using static TorchSharp.torch;

namespace LoKO.Engine.Presets;

/// <summary>Texts → BERT feeds (input_ids, attention_mask, token_type_ids), padded to the batch's longest row.</summary>
public sealed class TextInputEncoder(TextEncoder tokenizer) : IInputEncoder
{
    public Modality Modality => Modality.Text;
    /// <summary>Tokens per example, [CLS] and [SEP] included.</summary>
    public int MaxTokens => tokenizer.MaxLength;

    public EncodedInputs Encode(IReadOnlyList<ModelInput> batch, Device device)
    {
        var texts = batch.Select(b => b is TextInput t ? t.Text : throw new ArgumentException("this model takes text; the example has no text", "text")).ToList();
        var encoded = tokenizer.Encode(texts);
        long[] shape = [encoded.Batch, encoded.SeqLen];
        var mask = tensor(encoded.AttentionMask, shape);
        return new EncodedInputs(new Dictionary<string, Tensor>
        {
            ["input_ids"] = tensor(encoded.InputIds, shape),
            ["attention_mask"] = mask.alias(),
            ["token_type_ids"] = tensor(encoded.TokenTypeIds, shape),
        }, mask);
    }
}
