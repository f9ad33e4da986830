using LoKO.Engine.Lora;
using LoKO.Engine.Peft;
using static TorchSharp.torch;

namespace LoKO.Engine.Tests.Models;

/// <summary>Hugging Face module paths of the presets' LoRA sites, and θ ↔ PEFT tensors.</summary>
[Collection(ModelCollection.Name)]
public class PeftLayoutTests(ModelFixture models)
{
    [Fact]
    public void MiniLmSitesAreTheirBertModulePaths()
    {
        var peft = PeftBase.For(models.MiniLm);
        Assert.Equal(models.MiniLm.Sites.Count, peft.ModulePaths.Count);
        Assert.All(models.MiniLm.Sites, s => Assert.Equal(s.Name, peft.PathOf(s)));
        Assert.Contains("encoder.layer.3.attention.output.dense", peft.ModulePaths.Values);
        Assert.Contains("pooler.dense", peft.ModulePaths.Values);
        Assert.Equal("classifier", peft.HeadModule);
    }

    [Fact]
    public void ResNetConvsAreNamedAsTorchvisionNamesThem()
    {
        var model = models.ResNet18;
        var peft = PeftBase.For(model);
        string[] expected =
        [
            "conv1",
            "layer1.0.conv1", "layer1.0.conv2", "layer1.1.conv1", "layer1.1.conv2",
            "layer2.0.downsample.0", "layer2.0.conv1", "layer2.0.conv2", "layer2.1.conv1", "layer2.1.conv2",
            "layer3.0.downsample.0", "layer3.0.conv1", "layer3.0.conv2", "layer3.1.conv1", "layer3.1.conv2",
            // The CNTK network has a third block in its last stage, which torchvision's resnet18 does not.
            "layer4.0.downsample.0", "layer4.0.conv1", "layer4.0.conv2", "layer4.1.conv1", "layer4.1.conv2", "layer4.2.conv1", "layer4.2.conv2",
        ];
        Assert.Equal(expected, model.Sites.Select(peft.PathOf));
        var downsample = model.Sites.Single(s => peft.PathOf(s) == "layer2.0.downsample.0");
        Assert.Equal((64L, 128L), (downsample.InFeatures, downsample.OutFeatures));
        Assert.Equal([1L, 1L], downsample.KernelShape);
        Assert.Equal("fc", peft.HeadModule);
    }

    [Fact]
    public void ThetaSurvivesTheTripThroughPeftTensors()
    {
        foreach (var model in new[] { models.MiniLm, models.ResNet18 })
        {
            using var scope = NewDisposeScope();
            var lora = new LoraOptions { Rank = 3, Alpha = 5, Targets = [.. model.Sites.Select(s => s.Name)] };
            using var adapter = model.CreateAdapter(lora, outputs: 4, seed: 7);
            using (no_grad()) adapter.Theta.uniform_(-1, 1);
            var peft = PeftBase.For(model);
            var tensors = PeftAdapter.Tensors(peft, adapter.Layout, adapter.Theta.detach());
            Assert.Equal(2 * model.Sites.Count + 2, tensors.Count);
            foreach (var site in model.Sites)
            {
                var a = tensors[PeftAdapter.LoraKey(peft.PathOf(site), 'A')];
                var b = tensors[PeftAdapter.LoraKey(peft.PathOf(site), 'B')];
                // PEFT's Linear LoRA: A [r, in], B [out, r]; its Conv2d LoRA: A [r, in, kh, kw], B [out, r, 1, 1].
                Assert.Equal([3, site.InFeatures, .. site.KernelShape], a.shape);
                Assert.Equal(site.Kind == LoraSiteKind.Conv ? [site.OutFeatures, 3, 1, 1] : new[] { site.OutFeatures, 3L }, b.shape);
            }
            Assert.Equal([4, model.FeatureDim], tensors[PeftAdapter.HeadKey(peft, "weight")].shape);
            var config = PeftConfig.Parse(PeftAdapter.Config(peft, adapter.Layout, lora.Alpha).ToJson());
            Assert.Equal((3, 5.0), (config.Rank, config.Alpha));
            Assert.Equal(model.Sites.Select(s => s.Name), peft.Select(model.Sites, config.TargetModules).Select(s => s.Name));
            var theta = PeftAdapter.Theta(peft, adapter.Layout, tensors);
            Assert.Equal(0f, (theta - adapter.Theta.detach()).abs().max().item<float>());
        }
    }

    [Fact]
    public void ASiteWithoutAModulePathIsAnErrorNamingIt()
    {
        var site = models.ResNet18.Sites[0];
        var e = Assert.Throws<PeftFormatException>(() => new PeftBase(null, null, "fc", new Dictionary<string, string>()).PathOf(site));
        Assert.Equal("format", e.Field);
        Assert.Contains(site.Name, e.Message);
    }

    [Fact]
    public void PeftSuffixTargetsSelectEveryMatchingSite()
    {
        var peft = PeftBase.For(models.MiniLm);
        var sites = peft.Select(models.MiniLm.Sites, ["query", "attention.self.value"]);
        Assert.Equal(12, sites.Count);
        var e = Assert.Throws<PeftFormatException>(() => peft.Select(models.MiniLm.Sites, ["ery"]));
        Assert.Equal("adapter.adapter_config.json.target_modules", e.Field);
    }
}
