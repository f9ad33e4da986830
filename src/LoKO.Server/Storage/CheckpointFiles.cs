using System.Globalization;

namespace LoKO.Server.Storage;

/// <summary>
/// Checkpoint blobs as files under &lt;data dir&gt;/checkpoints/&lt;tenant&gt;/. Written atomically: a temp file,
/// flushed to disk, then renamed over the final name, and the folder flushed so the rename itself is durable.
/// </summary>
public sealed class CheckpointFiles(string dataDirectory)
{
    public string Root { get; } = Path.Combine(dataDirectory, "checkpoints");

    public string RelativePath(string tenantId, long version) => Path.Combine("checkpoints", tenantId, $"v{version:D8}.safetensors");

    /// <summary>θ a tenant was created with (an imported adapter); absent for a tenant that starts from its seed.</summary>
    public string InitialPath(string tenantId) => Path.Combine("checkpoints", tenantId, "initial.safetensors");

    public bool Exists(string relativePath) => File.Exists(FullPath(relativePath));

    public string FullPath(string relativePath) => Path.Combine(Path.GetDirectoryName(Root)!, relativePath);

    public void WriteAtomically(string relativePath, Action<Stream> write)
    {
        var path = FullPath(relativePath);
        var folder = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(folder);
        var temp = path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            write(stream);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
        FlushFolder(folder);
    }

    public Stream OpenRead(string relativePath) => new FileStream(FullPath(relativePath), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);

    public void DeleteTenant(string tenantId)
    {
        var folder = Path.Combine(Root, tenantId);
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
    }

    public void Delete(string relativePath)
    {
        var path = FullPath(relativePath);
        if (File.Exists(path)) File.Delete(path);
    }

    /// <summary>Deletes the tenant's checkpoint files (and unfinished temp files) older than <paramref name="version"/>, including any a crash left behind.</summary>
    public void DeleteVersionsBefore(string tenantId, long version)
    {
        var folder = Path.Combine(Root, tenantId);
        if (!Directory.Exists(folder)) return;
        foreach (var path in Directory.EnumerateFiles(folder, "v*.safetensors*"))
        {
            var name = Path.GetFileName(path);
            var digits = name.AsSpan(1, name.IndexOf('.') - 1);
            if (long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v < version) File.Delete(path);
        }
    }

    /// <summary>fsync of a directory: .NET has no API for it, but opening the folder read-only and flushing works on Linux.</summary>
    static void FlushFolder(string folder)
    {
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            using var handle = File.OpenHandle(folder, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, FileOptions.None);
            RandomAccess.FlushToDisk(handle);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            // Some file systems refuse to open folders as files; the rename is then as durable as the OS makes it.
        }
    }
}
