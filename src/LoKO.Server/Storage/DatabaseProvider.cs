namespace LoKO.Server.Storage;

/// <summary>Where the metadata store lives (LoKO:Database:Provider, case-insensitive).</summary>
public enum DatabaseProvider
{
    /// <summary>A SQLite file in the data directory: one node, no other service.</summary>
    Sqlite,
    /// <summary>A PostgreSQL database that several nodes share.</summary>
    Postgres,
}
