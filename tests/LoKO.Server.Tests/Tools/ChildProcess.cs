using System.Diagnostics;

namespace LoKO.Server.Tests.Tools;

/// <summary>What a finished child process printed, and how it exited.</summary>
public sealed record ChildProcessResult(int ExitCode, string Stdout, string Stderr);

/// <summary>Runs a program to its end with both streams captured; one that outlives its time is killed and reported.</summary>
public static class ChildProcess
{
    public static async Task<ChildProcessResult> RunAsync(string program, IEnumerable<string> arguments, TimeSpan timeout, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (workingDirectory is not null) start.WorkingDirectory = workingDirectory;
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var expired = new CancellationTokenSource(timeout);
        try { await process.WaitForExitAsync(expired.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Path.GetFileName(program)} did not finish within {timeout.TotalSeconds:0} s:\n{await stdout}\n{await stderr}");
        }
        return new ChildProcessResult(process.ExitCode, await stdout, await stderr);
    }
}
