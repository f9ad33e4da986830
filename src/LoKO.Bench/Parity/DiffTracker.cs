namespace LoKO.Bench.Parity;

/// <summary>Running max |ours − reference| and max |reference| over many outputs.</summary>
sealed class DiffTracker
{
    public double MaxAbsDiff { get; private set; }
    public double Scale { get; private set; }

    public void Add(ReadOnlySpan<float> ours, ReadOnlySpan<float> reference)
    {
        if (ours.Length != reference.Length)
            throw new InvalidOperationException($"output sizes differ: ours {ours.Length}, reference {reference.Length}");
        for (int i = 0; i < ours.Length; i++)
        {
            MaxAbsDiff = Math.Max(MaxAbsDiff, Math.Abs((double)ours[i] - reference[i]));
            Scale = Math.Max(Scale, Math.Abs((double)reference[i]));
        }
    }

    public double Relative => Scale == 0 ? MaxAbsDiff : MaxAbsDiff / Scale;
}
