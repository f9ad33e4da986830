namespace LoKO.Bench.Batch;

/// <summary>One tenant count's measurement: learned examples per second with the steps batched across tenants and one at a time.</summary>
public sealed record BatchFigure(int Tenants, int Examples, double BatchedPerSecond, double UnbatchedPerSecond)
{
    public double Speedup => BatchedPerSecond / UnbatchedPerSecond;
}
