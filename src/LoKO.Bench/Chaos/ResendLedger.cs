namespace LoKO.Bench.Chaos;

/// <summary>
/// Per server generation, what the clients sent again (examples sent before without an acknowledgement) and how many
/// of those came back DUPLICATE (they had been made durable, only the acknowledgement was lost): a kill's figures are
/// those of the generation after it.
/// </summary>
sealed class ResendLedger
{
    readonly Dictionary<int, (int Resent, int Duplicates)> _counts = [];

    public void Resent(int generation, int count) => Add(generation, count, 0);

    public void Duplicate(int generation) => Add(generation, 0, 1);

    public (int Resent, int Duplicates) Of(int generation)
    {
        lock (_counts) return _counts.GetValueOrDefault(generation);
    }

    void Add(int generation, int resent, int duplicates)
    {
        lock (_counts)
        {
            var (r, d) = _counts.GetValueOrDefault(generation);
            _counts[generation] = (r + resent, d + duplicates);
        }
    }
}
