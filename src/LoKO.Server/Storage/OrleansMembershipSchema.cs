namespace LoKO.Server.Storage;

/// <summary>
/// The schema Orleans' ADO.NET clustering needs on PostgreSQL (its package ships none): written for this project in
/// Storage/Sql/orleans-membership-v&lt;n&gt;.sql, embedded, and applied by the PostgreSQL migrations (one per version).
/// Each script can run again without harm.
/// </summary>
public static class OrleansMembershipSchema
{
    public static string Version(int version)
    {
        var name = $"LoKO.Server.Storage.Sql.orleans-membership-v{version}.sql";
        using var stream = typeof(OrleansMembershipSchema).Assembly.GetManifestResourceStream(name)
                           ?? throw new InvalidOperationException($"the embedded resource {name} is missing");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>What removing version 1 drops.</summary>
    public const string DropVersion1 = """
        DROP FUNCTION IF EXISTS loko_orleans_update_member(text, text, integer, integer, integer, text, timestamptz, integer);
        DROP FUNCTION IF EXISTS loko_orleans_insert_member(text, text, integer, integer, text, text, integer, integer, timestamptz, timestamptz, integer);
        DROP TABLE IF EXISTS orleans_membership;
        DROP TABLE IF EXISTS orleans_membership_version;
        DROP TABLE IF EXISTS OrleansQuery;
        """;
}
