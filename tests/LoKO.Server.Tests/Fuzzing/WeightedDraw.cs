namespace LoKO.Server.Tests.Fuzzing;

/// <summary>Draws items at random, each as often as its weight says.</summary>
public sealed class WeightedDraw<T>
{
    readonly IReadOnlyList<T> _items;
    readonly double[] _cumulative;

    public WeightedDraw(IReadOnlyList<T> items, Func<T, double> weight)
    {
        _items = items;
        double sum = 0;
        _cumulative = [.. items.Select(item => sum += weight(item))];
    }

    public T Next(Random rng)
    {
        int i = Array.BinarySearch(_cumulative, rng.NextDouble() * _cumulative[^1]);
        return _items[i < 0 ? ~i : i];
    }
}
