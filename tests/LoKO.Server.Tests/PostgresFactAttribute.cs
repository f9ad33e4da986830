namespace LoKO.Server.Tests;

/// <summary>
/// A test that needs PostgreSQL (<see cref="PostgresServer"/>). Without a server it is reported as skipped, with
/// the reason, never as passed; under CI=true it is not skipped, and fails saying what is missing.
/// </summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute()
    {
        if (PostgresServer.Missing is { } missing && !PostgresServer.Required) Skip = missing;
    }
}

/// <summary>A <see cref="PostgresFactAttribute"/> that takes data: skipped, or failing under CI=true, the same way.</summary>
public sealed class PostgresTheoryAttribute : TheoryAttribute
{
    public PostgresTheoryAttribute()
    {
        if (PostgresServer.Missing is { } missing && !PostgresServer.Required) Skip = missing;
    }
}
