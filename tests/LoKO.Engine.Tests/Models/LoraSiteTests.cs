using LoKO.Engine.Lora;
using LoKO.Engine.Models;
using Xunit.Abstractions;

namespace LoKO.Engine.Tests.Models;

[Collection(ModelCollection.Name)]
public class LoraSiteTests(ModelFixture models, ITestOutputHelper output)
{
    [Fact]
    public void MiniLmSitesAreNamedFromTheFollowingBias()
    {
        var sites = models.MiniLm.Sites;
        // q, k, v, attention output, intermediate and output dense per layer, plus the pooler.
        Assert.Equal(6 * 6 + 1, sites.Count);
        var query = Assert.Single(sites, s => s.Name == "encoder.layer.0.attention.self.query");
        Assert.Equal(LoraSiteKind.MatMul, query.Kind);
        Assert.Equal((384L, 384L), (query.InFeatures, query.OutFeatures));
        var intermediate = Assert.Single(sites, s => s.Name == "encoder.layer.5.intermediate.dense");
        Assert.Equal((384L, 1536L), (intermediate.InFeatures, intermediate.OutFeatures));
        Assert.Equal(sites.Count, sites.Select(s => s.Name).Distinct().Count());
    }

    [Fact]
    public void MiniLmDefaultTargetsAreQueryAndValueOfEveryLayer()
    {
        var layout = models.MiniLm.Layout(new LoraOptions(), outputs: 2);
        Assert.Equal(12, layout.Sites.Count);
        Assert.All(layout.Sites, s => Assert.Matches(@"^encoder\.layer\.[0-5]\.attention\.self\.(query|value)$", s.Name));
        long expected = 12 * (8 * 384 + 384 * 8) + 2 * 384 + 2;
        Assert.Equal(expected, layout.Size);
        output.WriteLine($"minilm-l6 default sites, r=8, C=2: {layout.Size} trainable parameters");
    }

    [Fact]
    public void ResNetDefaultTargetsAreTheLastStageConvs()
    {
        var model = models.ResNet18;
        Assert.Equal(22, model.Sites.Count);
        Assert.All(model.Sites, s => Assert.Equal(LoraSiteKind.Conv, s.Kind));
        var layout = model.Layout(new LoraOptions(), outputs: 10);
        Assert.NotEmpty(layout.Sites);
        Assert.All(layout.Sites, s => Assert.Equal(512, s.OutFeatures));
        Assert.Equal(model.Sites.Count(s => s.OutFeatures == 512), layout.Sites.Count);
        Assert.Equal(layout.Sites.Sum(s => s.ParameterCount(8)) + 10 * 512 + 10, layout.Size);
        output.WriteLine($"resnet18 default sites ({layout.Sites.Count} convs), r=8, C=10: {layout.Size} trainable parameters");
    }

    [Fact]
    public void TargetsThatMatchNothingAreRejectedByName()
    {
        var e = Assert.Throws<ArgumentException>(() => models.MiniLm.Layout(new LoraOptions { Targets = ["encoder.layer.*.nothing"] }, 2));
        Assert.Equal("targets", e.ParamName);
        Assert.Contains("encoder.layer.*.nothing", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => models.MiniLm.Layout(new LoraOptions { Rank = 0 }, 2));
    }

    [Fact]
    public void GlobsSelectByWholeName()
    {
        Assert.True(SiteGlob.IsMatch("encoder.layer.*.attention.self.query", "encoder.layer.11.attention.self.query"));
        Assert.False(SiteGlob.IsMatch("encoder.layer.*.attention.self.query", "encoder.layer.1.attention.self.query.x"));
        Assert.True(SiteGlob.IsMatch("Parameter?", "Parameter7"));
        Assert.False(SiteGlob.IsMatch("Parameter?", "Parameter77"));
    }
}
