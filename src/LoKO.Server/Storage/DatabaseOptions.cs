namespace LoKO.Server.Storage;

/// <summary>The "LoKO:Database" settings.</summary>
public sealed class DatabaseOptions
{
    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;
    /// <summary>
    /// postgres: an Npgsql connection string (required; the database is created at startup if it does not exist).
    /// sqlite: optional, replaces the default file &lt;data dir&gt;/loko.db.
    /// </summary>
    public string? ConnectionString { get; set; }
}
