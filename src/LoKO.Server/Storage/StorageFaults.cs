using Microsoft.Data.Sqlite;
using Npgsql;

namespace LoKO.Server.Storage;

/// <summary>
/// Tells a fault of the storage itself — a metadata store or data directory that is read-only, full, locked or out of
/// reach — from a bug or a bad request: such a write is not durable, nothing is acknowledged, and it may well succeed
/// once the fault clears, so the APIs answer 503 with Retry-After instead of 500.
/// </summary>
public static class StorageFaults
{
    // SQLITE_PERM, SQLITE_BUSY, SQLITE_LOCKED, SQLITE_NOMEM, SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN
    static readonly HashSet<int> SqliteCodes = [3, 5, 6, 7, 8, 10, 13, 14];

    /// <summary>Whether <paramref name="e"/> or an exception inside it is such a fault.</summary>
    public static bool IsStorageFault(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            switch (x)
            {
                case SqliteException s when SqliteCodes.Contains(s.SqliteErrorCode):
                // 25006: read_only_sql_transaction (a standby, or default_transaction_read_only); the rest (disk full,
                // connection lost, shutdown, too many connections) Npgsql marks transient itself.
                case PostgresException { SqlState: "25006" }:
                case NpgsqlException { IsTransient: true }:
                case IOException:
                case UnauthorizedAccessException:
                    return true;
            }
        }
        return false;
    }
}
