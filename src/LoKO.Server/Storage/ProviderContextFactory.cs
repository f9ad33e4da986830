using Microsoft.EntityFrameworkCore;

namespace LoKO.Server.Storage;

/// <summary>Hands out the configured provider's context as the <see cref="LoKODbContext"/> the rest of the server uses.</summary>
public sealed class ProviderContextFactory<TContext>(IDbContextFactory<TContext> inner) : IDbContextFactory<LoKODbContext>
    where TContext : LoKODbContext
{
    public LoKODbContext CreateDbContext() => inner.CreateDbContext();

    public async Task<LoKODbContext> CreateDbContextAsync(CancellationToken cancellationToken = default) =>
        await inner.CreateDbContextAsync(cancellationToken);
}
