namespace LoKO.Bench.Serving;

/// <summary>The server process exited, did not become ready or refused a call the run needs; the message ends with its last lines.</summary>
public sealed class ServerFailure(string message, string output) : Exception($"{message}\n--- the server's last lines ---\n{output}")
{
    public string Output { get; } = output;
}
