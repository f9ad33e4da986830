namespace LoKO.Server.Tenants;

/// <summary>
/// Labels added to a live tenant, as its row records them: they joined the tenant's sequence after log entry
/// <see cref="AfterSequence"/>, so the head grows between that entry and the next, live and in every replay.
/// </summary>
public sealed record LabelAddition(long AfterSequence, IReadOnlyList<string> Labels);
