using Grpc.Core;
using LoKO.Bench.Load;

namespace LoKO.Bench.Scale;

/// <summary>Failed requests of a run: counted, the first few kept word for word; the run goes on.</summary>
sealed class RequestFailures
{
    const int Kept = 10;
    readonly List<string> _first = [];
    int _count;

    public int Count => Volatile.Read(ref _count);

    public IReadOnlyList<string> First
    {
        get { lock (_first) return [.. _first]; }
    }

    /// <summary>Runs <paramref name="call"/>; a failed call (gRPC error, refused example) is counted and answers false.</summary>
    public async Task<bool> TryAsync(string what, Func<Task> call)
    {
        try
        {
            await call();
            return true;
        }
        catch (Exception e) when (e is LoadFailure or RpcException)
        {
            Interlocked.Increment(ref _count);
            lock (_first)
                if (_first.Count < Kept) _first.Add($"{what}: {e.Message}");
            return false;
        }
    }
}
