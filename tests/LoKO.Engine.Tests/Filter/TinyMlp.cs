using LoKO.Engine.Data;
using LoKO.Engine.Filter;
using LoKO.Engine.Optimizers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoKO.Engine.Tests.Filter;

/// <summary>
/// z = W2·tanh(W1·x + b1) + b2 over a flat float64 θ = [W1, b1, W2, b2], on real MNIST digits
/// average-pooled to 4×4 and scaled to [0, 1]: small enough to check the filter against plain arrays.
/// </summary>
sealed class TinyMlp
{
    public const int Inputs = 16, Hidden = 8;
    public int Classes { get; }
    public int N => Hidden * Inputs + Hidden + Classes * Hidden + Classes;

    public TinyMlp(int classes) => Classes = classes;

    public Parameter NewTheta(int seed)
    {
        var rng = new Random(seed);
        var values = Enumerable.Range(0, N).Select(_ => rng.NextDouble() - 0.5).ToArray();
        return new Parameter(tensor(values, ScalarType.Float64), requires_grad: true);
    }

    public Tensor Forward(Tensor theta, double[] x) => Head.Logits(theta, Features(theta, x));

    /// <summary>The hidden layer tanh(W1·x + b1) [1, Hidden]: the features the head reads.</summary>
    public Tensor Features(Tensor theta, double[] x)
    {
        var w1 = theta.narrow(0, 0, Hidden * Inputs).view(Hidden, Inputs);
        var b1 = theta.narrow(0, Hidden * Inputs, Hidden);
        var input = tensor(x, ScalarType.Float64).unsqueeze(0);
        return (matmul(input, w1.t()) + b1).tanh();
    }

    /// <summary>W2 [Classes, Hidden] and b2 [Classes] at the end of θ.</summary>
    public HeadBlock Head => new(Hidden * Inputs + Hidden, Hidden * Inputs + Hidden + Classes * Hidden, Classes, Hidden);

    /// <summary>A pass that offers the features too, as a base model's does.</summary>
    public ForwardPass Pass(Tensor theta, double[] x) =>
        new(() => Forward(theta, x)) { Features = () => Features(theta, x) };

    /// <summary>Digits of the first <paramref name="classes"/> classes, pooled to 4×4, in a fixed shuffled order.</summary>
    public static IReadOnlyList<(double[] X, int Label)> Stream(int classes, int count, int seed)
    {
        var digits = StreamOrder.Shuffle(MnistDigits.Load(), seed).Where(d => d.Label < classes).Take(count);
        return [.. digits.Select(d => (Pool(d.Pixels), d.Label))];
    }

    static double[] Pool(float[] pixels)
    {
        var x = new double[Inputs];
        for (int r = 0; r < 28; r++)
            for (int c = 0; c < 28; c++)
                x[(r / 7) * 4 + c / 7] += pixels[r * 28 + c] / 255.0 / 49.0;
        return x;
    }
}
