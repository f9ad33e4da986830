using LoKO.Bench.Scalars;
using LoKO.Engine.Platform;
using TorchSharp;
using static TorchSharp.torch;

namespace LoKO.Engine.Tests.Platform;

/// <summary>Each held-scalar operation gives the bits of the TorchSharp operator it replaces, in float32 and float64.</summary>
public sealed class HeldScalarsTests
{
    public static TheoryData<ScalarType> Types => [ScalarType.Float32, ScalarType.Float64];

    [Theory]
    [MemberData(nameof(Types))]
    public void EveryOperationEqualsItsOperatorBitForBit(ScalarType type)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(7);
        var a = randn([64, 33], dtype: type, generator: generator);
        var b = randn([64, 33], dtype: type, generator: generator);
        const double c = 0.1234567891234;
        (string Name, Tensor Held, Tensor Operator)[] cases =
        [
            ("a + b", a.Plus(b), a + b),
            ("a + c", a.Plus(c), a + c),
            ("a − c", a.Minus(c), a - c),
            ("c − a", a.Subtracted(c), c - a),
            ("a·c", a.Times(c), a * c),
            ("a / c", a.Over(c), a / c),
            ("c / a", a.Dividing(c), c / a),
            ("a²", a.Squared(), a.pow(2)),
            ("max(a, c)", a.AtLeast(c), a.clamp_min(c)),
            ("full", a.FilledLike(c), full_like(a, c)),
            ("a += b", a.clone().PlusInPlace(b), a.clone().add_(b)),
            ("a ·= c", a.clone().TimesInPlace(c), a.clone().mul_(c)),
            ("a /= c", a.clone().OverInPlace(c), a.clone().div_(c)),
            ("range", HeldScalars.Range(33, a.device), arange(33, device: a.device)),
        ];
        foreach (var (name, held, op) in cases)
        {
            Assert.True(held.dtype == op.dtype, $"{name}: {held.dtype} vs {op.dtype}");
            Assert.True(held.eq(op).all().item<bool>(), $"{name} differs from the operator");
        }
        Assert.Equal(a[3, 5].ToDouble(), a[3, 5].Value());
        Assert.NotEqual(a.Plus(b).sum().Value(), a.Minus(c).sum().Value()); // the comparison can fail
    }

    /// <summary>
    /// The hazard itself, under a thread that allocates and collects without pause: TorchSharp's a + b fails within
    /// seconds (its temporary alpha freed mid-call), a.Plus(b) survives ten times the adds that broke it.
    /// </summary>
    [Fact]
    public void AHeldScalarSurvivesCollectionsThatFreeATemporaryOne()
    {
        var temporary = ScalarRaceCommand.Race("temporary", (a, b) => a + b, seconds: 60, size: 65536, stopAfterFailures: 1);
        Assert.True(temporary.Failed > 0, $"the race did not show in {temporary.Adds} adds and {temporary.Collections} collections");
        long adds = Math.Max(10 * temporary.Adds, 10_000);
        var held = ScalarRaceCommand.Race("held", (a, b) => a.Plus(b), seconds: 120, size: 65536, maxAdds: adds);
        Assert.Equal(0, held.Failed);
        Assert.True(held.Adds >= adds, $"{held.Adds} of {adds} adds in the time allowed");
    }
}
