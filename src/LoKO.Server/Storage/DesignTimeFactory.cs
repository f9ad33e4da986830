using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace LoKO.Server.Storage;

/// <summary>Lets `dotnet ef migrations add` build the model without starting the server.</summary>
public sealed class DesignTimeFactory : IDesignTimeDbContextFactory<LoKODbContext>
{
    public LoKODbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<LoKODbContext>().UseSqlite("Data Source=design.db").Options);
}
