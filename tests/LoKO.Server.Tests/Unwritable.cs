using System.Diagnostics;
using Microsoft.Data.Sqlite;

namespace LoKO.Server.Tests;

/// <summary>
/// Real storage faults: files and folders made unwritable under a running server. As root, permissions do not stop
/// writes, so the immutable attribute does (<c>chattr +i</c>, which also refuses writes through descriptors already
/// open); otherwise the write permission bits are taken away. SQLite's pooled connections keep their descriptors, so
/// the pool is cleared: new connections find the file as it is now.
/// </summary>
public sealed class Unwritable : IDisposable
{
    static readonly bool Root = Environment.IsPrivilegedProcess;
    static readonly Lazy<string?> Probe = new(ProbeOnce);

    readonly List<(string Path, UnixFileMode Mode)> _made = [];

    Unwritable(IEnumerable<string> paths)
    {
        try
        {
            foreach (var path in paths.Where(p => File.Exists(p) || Directory.Exists(p))) Make(path);
        }
        catch
        {
            Dispose();
            throw;
        }
        SqliteConnection.ClearAllPools();
    }

    /// <summary>Why no fault can be made here, or null.</summary>
    public static string? Missing => Probe.Value;

    /// <summary>Makes the existing ones of <paramref name="paths"/> unwritable until disposed.</summary>
    public static Unwritable Make(params string[] paths) => new(paths);

    /// <summary>The SQLite store of a data directory and its write-ahead log (the shared-memory index stays writable, so readers go on).</summary>
    public static string[] Database(string dataDirectory)
    {
        var db = Path.Combine(dataDirectory, "loko.db");
        return [db, db + "-wal"];
    }

    void Make(string path)
    {
        if (Root || OperatingSystem.IsWindows())
        {
            Chattr("+i", path);
            _made.Add((path, default));
            return;
        }
        var mode = File.GetUnixFileMode(path);
        File.SetUnixFileMode(path, mode & ~(UnixFileMode.UserWrite | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite));
        _made.Add((path, mode));
    }

    public void Dispose()
    {
        foreach (var (path, mode) in _made)
        {
            if (Root || OperatingSystem.IsWindows()) Chattr("-i", path);
            else File.SetUnixFileMode(path, mode);
        }
        _made.Clear();
        SqliteConnection.ClearAllPools();
    }

    static void Chattr(string flag, string path)
    {
        using var process = Process.Start(new ProcessStartInfo("chattr", [flag, path]) { RedirectStandardError = true, UseShellExecute = false })!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new IOException($"chattr {flag} {path}: {error.Trim()}");
    }

    static string? ProbeOnce()
    {
        var path = Path.Combine(Path.GetTempPath(), "loko-unwritable-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(path, "x");
        try
        {
            using (Make(path))
            {
                try { File.AppendAllText(path, "y"); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
            }
            return Root ? "running as root, and chattr +i does not stop writes here" : "removing the write permission does not stop writes here";
        }
        catch (Exception e) when (e is IOException or System.ComponentModel.Win32Exception)
        {
            return $"cannot make a file unwritable here: {e.Message}";
        }
        finally
        {
            File.Delete(path);
        }
    }
}

/// <summary>
/// A test that needs <see cref="Unwritable"/> storage: where no file can be made unwritable it is reported as skipped,
/// with the reason; under CI=true it runs and fails saying why.
/// </summary>
public sealed class StorageFaultFactAttribute : FactAttribute
{
    public StorageFaultFactAttribute()
    {
        if (Unwritable.Missing is { } missing && Environment.GetEnvironmentVariable("CI") != "true") Skip = missing;
    }
}
