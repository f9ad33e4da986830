namespace LoKO.Bench.Chaos;

/// <summary>The server broke a promise the run checks as it goes (an acknowledgement out of order, a rollback that did not happen…).</summary>
public sealed class ChaosFailure(string message) : Exception(message);
