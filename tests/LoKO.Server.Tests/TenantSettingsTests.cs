using System.Text.Json;
using LoKO.Contracts.Rest;
using LoKO.Contracts.Validation;
using LoKO.Engine.Filter;
using LoKO.Server.Storage;
using LoKO.Server.Tenants;

namespace LoKO.Server.Tests;

/// <summary>A tenant's stored row onto engine options: the filter variant and the gradient baselines' learning rates.</summary>
public class TenantSettingsTests
{
    static TenantSettings FromStored(string optimizer, string filterJson) => TenantSettings.FromRecord(new TenantRecord
    {
        TenantId = "t", Preset = "minilm-l6", LabelsJson = "[\"a\",\"b\"]", Optimizer = optimizer,
        LoraJson = "{}", FilterJson = filterJson, ApiKeyHash = "", Seed = 1, CreatedUtc = DateTime.UtcNow,
    });

    [Fact]
    public void AStoredFilterWithoutAVariantIsThePapersFilter()
    {
        // As tenants created before variants were stored: no variant, perhaps some explicit settings.
        var bare = FromStored("loko", "{}");
        Assert.Equal(LokoVariants.Paper, bare.Variant);
        Assert.Equal(LokoVariants.Named(LokoVariants.Paper), bare.LokoOptions);
        Assert.Equal(LokoVariants.Paper, bare.DescribedFilter.Variant);

        var tuned = FromStored("loko", "{\"p0\":\"constant\",\"r0\":0.5}");
        Assert.Equal(LokoVariants.Paper, tuned.Variant);
        Assert.Equal(LokoVariants.Named(LokoVariants.Paper) with { P0 = InitialCovariance.Constant, R0 = 0.5 }, tuned.LokoOptions);
    }

    [Fact]
    public void TheStoredVariantIsTheStartAndExplicitSettingsOverrideIt()
    {
        foreach (var name in LokoVariants.Names)
        {
            var settings = FromStored("loko", $"{{\"variant\":\"{name}\",\"p0\":\"constant\",\"p0Constant\":0.001}}");
            Assert.Equal(name, settings.Variant);
            Assert.Equal(LokoVariants.Named(name) with { P0 = InitialCovariance.Constant, P0Constant = 0.001 }, settings.LokoOptions);
        }
    }

    [Fact]
    public void ASettingTheVariantWouldIgnoreIsRejectedNamingItsField()
    {
        Assert.Empty(TenantSettings.ValidateCombination(new FilterSettings { Variant = "paper", Beta = 0.9 }));
        var ignored = TenantSettings.ValidateCombination(new FilterSettings { Variant = "natural", Beta = 0.9 });
        Assert.Equal("filter.beta", Assert.Single(ignored).Field);
        // A new tenant that names no variant gets the default, a logit-observation variant.
        Assert.Equal("filter.r0", Assert.Single(TenantSettings.ValidateCombination(TenantSettings.ForCreation("loko", new FilterSettings { R0 = 0.5 }))).Field);
        Assert.Equal("filter.p0", Assert.Single(TenantSettings.ValidateCombination(TenantSettings.ForCreation("loko", new FilterSettings { P0 = "bounded" }))).Field);
    }

    [Fact]
    public void ANewLokoTenantStoresTheResolvedVariantAndAGradientBaselineOnlyWhatItAsked()
    {
        var stored = JsonSerializer.Serialize(TenantSettings.ForCreation("loko", null), TenantSettings.Json);
        Assert.Equal($"{{\"variant\":\"{LokoVariants.Default}\"}}", stored);
        Assert.Equal(LokoVariants.Paper, TenantSettings.ForCreation("loko", new FilterSettings { Variant = "paper", R0 = 1 }).Variant);
        Assert.Null(TenantSettings.ForCreation("adagrad", new FilterSettings { LearningRate = 0.1 }).Variant);
        Assert.Null(FromStored("sgd", "{}").DescribedFilter.Variant);
    }

    [Fact]
    public void EachGradientBaselineHasItsDefaultLearningRateUnlessTheTenantSetsOne()
    {
        Assert.Equal(1e-3, FromStored("adamw", "{}").LearningRate);
        Assert.Equal(1e-2, FromStored("adagrad", "{}").LearningRate);
        Assert.Equal(1e-2, FromStored("sgd", "{}").LearningRate);
        Assert.Equal(0.05, FromStored("adagrad", "{\"learningRate\":0.05}").LearningRate);
        // Every optimizer the validator accepts is one the server builds and sizes.
        foreach (var optimizer in RequestValidator.Optimizers)
        {
            Assert.True(TenantFootprint.Bytes(optimizer, parameters: 10, outputs: 2) > 0);
            if (optimizer != TenantOptimizers.Loko) Assert.True(TenantOptimizers.DefaultLearningRate(optimizer) > 0);
        }
    }

    [Fact]
    public void ALokoTenantsFootprintCountsTheSharedHeadsCovarianceWhereItsVariantKeepsOne()
    {
        var layout = Engine.Lora.AdapterLayout.Create([], new Engine.Lora.LoraOptions(), featureDim: 384, outputs: 2);
        long n = layout.Size;
        // natural-root: the head is its own block, Σ [385, 385] float64 and its guard copy, plus the mask over θ.
        Assert.Equal(TenantFootprint.Bytes("loko", n, 2, headCovarianceSide: 385, logitObservation: true),
            TenantFootprint.Of(FromStored("loko", $"{{\"variant\":\"{LokoVariants.NaturalRoot}\"}}"), layout));
        Assert.True(TenantFootprint.Of(FromStored("loko", $"{{\"variant\":\"{LokoVariants.NaturalRoot}\"}}"), layout) > 2 * 8 * 385 * 385);
        // The paper's filter keeps the head in its diagonal p: no Σ.
        Assert.Equal(TenantFootprint.Bytes("loko", n, 2), TenantFootprint.Of(FromStored("loko", "{}"), layout));
    }
}
