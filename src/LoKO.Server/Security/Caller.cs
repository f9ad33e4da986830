using LoKO.Contracts.Validation;
using LoKO.Server.Hosting;
using LoKO.Server.Storage;
using LoKO.Server.Tenants;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LoKO.Server.Security;

/// <summary>Who a bearer key belongs to: the admin, or one tenant.</summary>
public sealed record Caller(bool IsAdmin, string? TenantId);

/// <summary>Checks "Authorization: Bearer &lt;key&gt;" for both APIs.</summary>
public sealed class Authorizer(AdminKey adminKey, IDbContextFactory<LoKODbContext> db)
{
    public async Task<Caller> AuthenticateAsync(string? authorization, CancellationToken ct)
    {
        const string scheme = "Bearer ";
        if (string.IsNullOrEmpty(authorization))
            throw new UnauthenticatedException("the Authorization header is missing: send 'Authorization: Bearer <key>'");
        if (!authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
            throw new UnauthenticatedException("the Authorization header must use the Bearer scheme");
        var key = authorization[scheme.Length..].Trim();
        if (key.Length == 0) throw new UnauthenticatedException("the bearer key is empty");
        if (ApiKeys.FixedTimeEquals(key, adminKey.Value)) return new Caller(true, null);
        var hash = ApiKeys.Hash(key);
        await using var context = await db.CreateDbContextAsync(ct);
        var tenant = await context.Tenants.AsNoTracking().Where(t => t.ApiKeyHash == hash).Select(t => t.TenantId).FirstOrDefaultAsync(ct);
        return tenant is null ? throw new UnauthenticatedException("the bearer key is not valid") : new Caller(false, tenant);
    }

    public async Task RequireAdminAsync(string? authorization, CancellationToken ct)
    {
        var caller = await AuthenticateAsync(authorization, ct);
        if (!caller.IsAdmin) throw new ForbiddenException("this operation needs the admin key");
    }

    /// <summary>The admin key reaches every tenant; a tenant key only its own.</summary>
    public async Task RequireTenantAsync(string? authorization, string tenantId, CancellationToken ct)
    {
        var caller = await AuthenticateAsync(authorization, ct);
        if (string.IsNullOrEmpty(tenantId)) throw new FieldValidationException("tenantId", "is required");
        if (!caller.IsAdmin && !string.Equals(caller.TenantId, tenantId, StringComparison.Ordinal))
            throw new ForbiddenException("this key does not reach that tenant");
        // The admin key reaches any id: one that names no tenant is answered here, before it activates a tenant grain
        // that cannot load (each failed activation costs a database round and an error in the log).
        if (caller.IsAdmin)
        {
            await using var context = await db.CreateDbContextAsync(ct);
            if (!await context.Tenants.AnyAsync(t => t.TenantId == tenantId, ct)) throw new TenantNotFoundException(tenantId);
        }
    }
}

/// <summary>The admin key: from LoKO:AdminKey, else read from or generated into &lt;data dir&gt;/admin.key (mode 0600).</summary>
public sealed class AdminKey
{
    public AdminKey(IOptions<LoKOOptions> options, ILogger<AdminKey> logger)
    {
        var o = options.Value;
        if (!string.IsNullOrWhiteSpace(o.AdminKey))
        {
            Value = o.AdminKey.Trim();
            return;
        }
        var path = Path.Combine(o.FullDataDirectory, "admin.key");
        if (File.Exists(path))
        {
            Value = File.ReadAllText(path).Trim();
            if (Value.Length > 0) return;
        }
        Directory.CreateDirectory(o.FullDataDirectory);
        Value = ApiKeys.NewKey("loko_admin_");
        var fileOptions = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var writer = new StreamWriter(path, fileOptions)) writer.Write(Value);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        logger.LogWarning("No LoKO:AdminKey configured: generated one into {Path} (mode 0600)", path);
    }

    public string Value { get; }
}
