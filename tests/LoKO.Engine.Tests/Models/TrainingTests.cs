using LoKO.Engine.Lora;
using TorchSharp;
using static TorchSharp.torch;

namespace LoKO.Engine.Tests.Models;

[Collection(ModelCollection.Name)]
public class TrainingTests(ModelFixture models)
{
    [Fact]
    public void AdamWOnFiftyMnistDigitsLowersTheLoss()
    {
        using var scope = NewDisposeScope();
        var model = models.ResNet18;
        var digits = TestInputs.MnistDigits(50);
        using var adapter = model.CreateAdapter(new LoraOptions(), outputs: 10, seed: 5);
        using var inputs = model.Encode([.. digits.Select(TestInputs.Image)]);
        var labels = tensor(digits.Select(d => (long)d.Label).ToArray());
        var optimizer = optim.AdamW([adapter.Theta], lr: 1e-3);

        float Loss() => nn.functional.cross_entropy(model.Forward(inputs, adapter), labels).item<float>();
        float before = Loss();
        for (int step = 0; step < 6; step++)
        {
            using var stepScope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(model.Forward(inputs, adapter), labels);
            loss.backward();
            optimizer.step();
        }
        float after = Loss();
        Assert.True(after < 0.7 * before, $"loss {before:F3} → {after:F3}");
    }
}
