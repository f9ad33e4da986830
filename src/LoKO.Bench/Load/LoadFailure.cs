namespace LoKO.Bench.Load;

/// <summary>The service could not be measured (unreachable, a key refused, an example not accepted, no progress); the message says why.</summary>
sealed class LoadFailure(string message) : Exception(message);
