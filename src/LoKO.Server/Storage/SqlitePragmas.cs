using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace LoKO.Server.Storage;

/// <summary>
/// Per connection: a full fsync at every commit (an acknowledged example survives power loss, not only a
/// crash), foreign keys enforced, and a busy timeout so concurrent tenants wait for the single writer.
/// WAL mode itself is persistent in the file and set once at startup.
/// </summary>
public sealed class SqlitePragmas : DbConnectionInterceptor
{
    const string Pragmas = "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=30000;";

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        command.ExecuteNonQuery();
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
