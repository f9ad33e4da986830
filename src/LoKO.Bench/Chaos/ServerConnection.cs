namespace LoKO.Bench.Chaos;

/// <summary>How to reach one generation of the server (one process between two kills).</summary>
sealed record ServerConnection(int Generation, Uri Rest, Uri Grpc, string AdminKey);
