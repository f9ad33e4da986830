namespace LoKO.Bench.Chaos;

/// <summary>A chaos run: how many kills, tenants and examples, the seed of the kill schedule, and the server's settings.</summary>
public sealed record ChaosSettings
{
    public const string AdminKey = "chaos-admin-key";

    public required int Kills { get; init; }
    public required int Tenants { get; init; }
    public required int Examples { get; init; }
    public int Seed { get; init; } = 1;
    /// <summary>LoKO.Server.dll (run by `dotnet`) or an executable.</summary>
    public required string ServerPath { get; init; }
    /// <summary>Where the two data directories (chaos/, reference/) are made.</summary>
    public required string WorkDirectory { get; init; }
    /// <summary>Often, so that kills find checkpoints and their compactions under way.</summary>
    public int CheckpointEverySteps { get; init; } = 8;
    /// <summary>Few, so that every checkpoint's compaction deletes checkpoints and log entries.</summary>
    public int RetainCheckpoints { get; init; } = 3;
    /// <summary>Tiny, so that appends wait for the learner: examples are in flight (sent, not yet acknowledged) whenever a client streams.</summary>
    public int MaxQueuedExamples { get; init; } = 2;
    public int MaxTokens { get; init; } = 16;
    /// <summary>Largest |θ − θ of the uninterrupted run| accepted.</summary>
    public double Tolerance { get; init; } = 1e-6;

    public void Validate()
    {
        if (Kills < 0) throw new ArgumentException("--kills must be 0 or more");
        if (Tenants < 1) throw new ArgumentException("--tenants must be at least 1");
        if (Examples < 3) throw new ArgumentException("--examples must be at least 3");
        if (CheckpointEverySteps < 2) throw new ArgumentException("--checkpoint-every must be at least 2 (a rollback spans fewer examples)");
    }

    /// <summary>
    /// The server's settings in both runs. Checkpoints only by step count (never by the clock, never at shutdown), so
    /// both runs checkpoint at the same sequences. The guard rails are off: their monitor's window starts afresh at each
    /// restart, so a freeze could come at a different example than in the uninterrupted run, which has no restart.
    /// The tenant actor logs its checkpoints, which the killer watches for. One LibTorch thread: the run measures
    /// recovery, not speed, and on a shared machine a second thread mostly waits for a core.
    /// </summary>
    public IReadOnlyList<string> ServerSettings() =>
    [
        $"--LoKO:MaxTokens={MaxTokens}",
        "--LoKO:TorchThreads=1",
        $"--LoKO:CheckpointEverySteps={CheckpointEverySteps}",
        "--LoKO:CheckpointEverySeconds=86400",
        "--LoKO:CheckpointOnShutdown=false",
        $"--LoKO:RetainCheckpoints={RetainCheckpoints}",
        $"--LoKO:MaxQueuedExamples={MaxQueuedExamples}",
        "--LoKO:Guard:Enabled=false",
        "--Logging:LogLevel:Default=Warning",
        "--Logging:LogLevel:Microsoft.EntityFrameworkCore=Warning",
        "--Logging:LogLevel:LoKO.Server.Tenants.TenantActor=Information",
    ];
}
