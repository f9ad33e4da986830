using System.Globalization;
using LoKO.Engine.Filter;
using LoKO.Engine.Optimizers;
using LoKO.Engine.Lora;

namespace LoKO.Bench.Online;

/// <summary>One optimizer configuration to run: a family, and a learning rate for the gradient baselines.</summary>
public sealed record OptimizerSpec(string Family, double? LearningRate, LokoOptions? Loko = null, string? Name = null)
{
    /// <summary>The learning-rate grid of the gradient baselines.</summary>
    public static IReadOnlyList<double> LearningRates { get; } = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1];
    public static IReadOnlyList<string> Families { get; } = ["loko", "adamw", "adagrad", "sgd"];

    public string Label => Name ?? (LearningRate is { } lr ? $"{Family} lr {lr.ToString("G", CultureInfo.InvariantCulture)}" : Family);

    /// <summary>A gradient family with this suffix (`adagrad-head`) learns the head alone: the linear probe.</summary>
    public const string HeadOnlySuffix = "-head";

    public IOnlineOptimizer Create(TenantAdapter adapter)
    {
        if (Family == "loko") return new LokoFilter(adapter.Theta, Loko ?? LokoVariants.Named(LokoVariants.Default), head: HeadBlock.Of(adapter.Layout));
        var family = Family.EndsWith(HeadOnlySuffix, StringComparison.Ordinal) ? Family[..^HeadOnlySuffix.Length] : Family;
        var optimizer = family switch
        {
            "adamw" => GradientOptimizer.AdamW(adapter.Theta, LearningRate!.Value),
            "adagrad" => GradientOptimizer.AdaGrad(adapter.Theta, LearningRate!.Value),
            "sgd" => GradientOptimizer.Sgd(adapter.Theta, LearningRate!.Value),
            _ => throw new InvalidOperationException(Family),
        };
        if (family == Family) return optimizer;
        using var outside = HeadBlock.Of(adapter.Layout).OutsideMask(adapter.Theta.detach());
        using var head = 1 - outside;
        return optimizer.OnlyWhere(head);
    }

    /// <summary>
    /// `loko` is one run with the default options; each gradient family is one run per grid learning rate,
    /// or per rate named after it (`adamw@3e-4`), e.g. to rerun on more data the rates a shorter run found best.
    /// </summary>
    public static IReadOnlyList<OptimizerSpec> Expand(IEnumerable<string> names)
    {
        var specs = new List<OptimizerSpec>();
        foreach (var name in names.Distinct())
        {
            var parts = name.Split('@', 2);
            var family = parts[0];
            bool headOnly = family.EndsWith(HeadOnlySuffix, StringComparison.Ordinal) && family != "loko" + HeadOnlySuffix && Families.Contains(family[..^HeadOnlySuffix.Length]);
            if (!Families.Contains(family) && !headOnly && !family.StartsWith("loko:", StringComparison.Ordinal))
                throw new ArgumentException($"unknown optimizer '{family}'; known: {string.Join(", ", Families)} (a gradient family with '{HeadOnlySuffix}' learns the head alone)");
            if (family.StartsWith("loko", StringComparison.Ordinal) && (family == "loko" || family.StartsWith("loko:", StringComparison.Ordinal)))
            {
                if (parts.Length > 1) throw new ArgumentException("--optimizers: loko takes no learning rate");
                var (label, options) = LokoSpec.Parse(name);
                specs.Add(new OptimizerSpec("loko", null, options, label));
            }
            else if (parts.Length == 1) specs.AddRange(LearningRates.Select(lr => new OptimizerSpec(family, lr)));
            else if (double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var lr) && double.IsFinite(lr) && lr > 0)
                specs.Add(new OptimizerSpec(family, lr));
            else throw new ArgumentException($"--optimizers: '{parts[1]}' in '{name}' is not a positive learning rate");
        }
        return specs;
    }
}
