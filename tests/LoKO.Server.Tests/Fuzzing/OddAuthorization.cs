namespace LoKO.Server.Tests.Fuzzing;

/// <summary>
/// Authorization values a careless or hostile client sends in place of its own key: none, another scheme, a bearer
/// with no key, a wrong one, another tenant's, the admin's, a key without its scheme, a huge one.
/// </summary>
public static class OddAuthorization
{
    /// <summary>
    /// <paramref name="own"/>: the tenant the request names (null: an admin request). gRPC metadata cannot carry
    /// non-ASCII text, so <paramref name="nonAscii"/> is for HTTP headers only.
    /// </summary>
    public static string? Draw(Random rng, FuzzTargets targets, FuzzTenant? own, bool nonAscii, List<string> notes)
    {
        var key = own?.Key ?? targets.AdminKey;
        var others = targets.Tenants.Where(t => t != own).ToList();
        var value = rng.Next(12) switch
        {
            0 => null,
            1 => "Basic dXNlcjpwYXNz",
            2 => "Bearer",
            3 => "Bearer ",
            4 => "Bearer not-a-key",
            5 => "Bearer " + others[rng.Next(others.Count)].Key,
            6 => "Bearer " + targets.AdminKey,
            7 => "bearer " + key,
            8 => "Bearer   " + key + "  ",
            9 => key,
            10 => "Bearer " + key + "x",
            _ => nonAscii && rng.Next(2) == 0 ? "Bearer ünï☃" : "Bearer " + new string('k', 4000),
        };
        notes.Add(value is null ? "no authorization" : "odd authorization");
        return value;
    }
}
