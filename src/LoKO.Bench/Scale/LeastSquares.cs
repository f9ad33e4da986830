namespace LoKO.Bench.Scale;

/// <summary>The least-squares line y = a + b·x through points.</summary>
public readonly record struct LeastSquares(double Intercept, double Slope)
{
    public static LeastSquares Fit(IReadOnlyList<(double X, double Y)> points)
    {
        if (points.Count < 2) return new LeastSquares(points.Count == 1 ? points[0].Y : double.NaN, double.NaN);
        double mx = points.Average(p => p.X), my = points.Average(p => p.Y);
        double sxx = points.Sum(p => (p.X - mx) * (p.X - mx)), sxy = points.Sum(p => (p.X - mx) * (p.Y - my));
        double slope = sxx > 0 ? sxy / sxx : double.NaN;
        return new LeastSquares(my - slope * mx, slope);
    }

    public double At(double x) => Intercept + Slope * x;
}
