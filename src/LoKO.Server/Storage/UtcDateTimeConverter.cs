using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace LoKO.Server.Storage;

/// <summary>
/// Every stored time is UTC. SQLite keeps no kind (values would read back Unspecified) and PostgreSQL's
/// timestamptz refuses anything but UTC, so values are normalised on the way in and marked UTC on the way out.
/// </summary>
public sealed class UtcDateTimeConverter() : ValueConverter<DateTime, DateTime>(
    v => v.Kind == DateTimeKind.Local ? v.ToUniversalTime() : DateTime.SpecifyKind(v, DateTimeKind.Utc),
    v => DateTime.SpecifyKind(v, DateTimeKind.Utc));
