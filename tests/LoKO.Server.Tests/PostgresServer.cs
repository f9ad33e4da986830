using DotNet.Testcontainers.Builders;
using Testcontainers.PostgreSql;

namespace LoKO.Server.Tests;

/// <summary>
/// The PostgreSQL server of the PostgreSQL tests, found once per test run: the connection string in
/// LOKO_TEST_POSTGRES when it is set (e.g. printed by scripts/test-postgres.sh; .ci/run sets it), else a
/// Testcontainers container when a Docker engine answers (removed by Testcontainers when the run ends).
/// </summary>
public static class PostgresServer
{
    public const string Variable = "LOKO_TEST_POSTGRES";
    const string Image = "postgres:15";

    sealed record Source(string? ConnectionString, PostgreSqlContainer? Container, string? Missing);

    static readonly Lazy<Source> Found = new(Find);
    static readonly Lazy<Task<string>> Started = new(StartAsync);

    /// <summary>Why the tests cannot have a server, or null when they can.</summary>
    public static string? Missing => Found.Value.Missing;

    /// <summary>Under CI=true the PostgreSQL tests must run: a missing server fails them instead of skipping them.</summary>
    public static bool Required =>
        Environment.GetEnvironmentVariable("CI") is { } ci && (ci.Equals("true", StringComparison.OrdinalIgnoreCase) || ci == "1");

    /// <summary>A connection string to the server (its maintenance database) with the right to create databases.</summary>
    public static Task<string> ConnectionStringAsync() =>
        Missing is { } missing ? throw new InvalidOperationException(missing) : Started.Value;

    static Source Find()
    {
        var configured = Environment.GetEnvironmentVariable(Variable);
        if (!string.IsNullOrWhiteSpace(configured)) return new Source(configured, null, null);
        try
        {
            return new Source(null, new PostgreSqlBuilder(Image).Build(), null);
        }
        catch (DockerUnavailableException)
        {
            return new Source(null, null,
                $"no PostgreSQL server for the tests: {Variable} is not set and no Docker engine answers. " +
                $"Start one with `scripts/test-postgres.sh start DIR` and set {Variable} to the connection string it prints.");
        }
    }

    static async Task<string> StartAsync()
    {
        var source = Found.Value;
        if (source.Container is not { } container) return source.ConnectionString!;
        await container.StartAsync();
        return container.GetConnectionString();
    }
}
