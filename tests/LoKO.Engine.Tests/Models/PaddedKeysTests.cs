using LoKO.Engine.Lora;
using LoKO.Engine.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace LoKO.Engine.Tests.Models;

/// <summary>
/// The fused attention of minilm-l6 honours the attention mask exactly: a padded key gets no weight at all, so what
/// the padded positions hold cannot reach a real token's output, down to the last bit. Padded text passes
/// (<see cref="Batching.SimilarLengths"/>) rely on that.
/// </summary>
[Collection(ModelCollection.Name)]
public class PaddedKeysTests(ModelFixture models)
{
    [Fact]
    public void WhatPaddedPositionsHoldDoesNotChangeAnyRowsFeaturesByOneBit()
    {
        using var scope = NewDisposeScope();
        var model = models.MiniLm;
        using var adapter = model.CreateAdapter(new LoraOptions(), outputs: 3, seed: 5);
        using (no_grad()) adapter.Theta.add_(randn(adapter.Theta.shape[0], generator: new Generator(6)) * 0.01);
        using var inputs = model.Encode(TestInputs.Texts(6));
        var mask = inputs.TokenMask!.data<long>().ToArray();
        Assert.Contains(0L, mask);

        // Other tokens and token types where the mask is 0: only padded keys (and padded queries, which pooling drops) change.
        var feeds = inputs.Feeds.ToDictionary(f => f.Key, f => f.Key switch
        {
            "input_ids" => Junk(f.Value, mask, i => 1000 + i % 500),
            "token_type_ids" => Junk(f.Value, mask, _ => 1),
            _ => f.Value.alias(),
        });
        using var junk = new EncodedInputs(feeds, inputs.TokenMask.clone());
        using (no_grad())
        {
            var expected = model.Features(inputs, adapter);
            var actual = model.Features(junk, adapter);
            Assert.True(expected.eq(actual).all().item<bool>(), $"padded positions reached real rows: max difference {(actual - expected).abs().max().ToDouble():E3}");
        }
    }

    /// <summary><paramref name="values"/> with position i replaced by <paramref name="junk"/>(i) wherever the mask is 0.</summary>
    static Tensor Junk(Tensor values, long[] mask, Func<int, long> junk)
    {
        var data = values.data<long>().ToArray();
        for (int i = 0; i < data.Length; i++)
            if (mask[i] == 0) data[i] = junk(i);
        return tensor(data, values.shape);
    }
}
