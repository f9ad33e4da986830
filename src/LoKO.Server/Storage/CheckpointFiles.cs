using System.Globalization;

namespace LoKO.Server.Storage;

/// <summary>
/// Checkpoint blobs as files under &lt;data dir&gt;/checkpoints/&lt;tenant&gt;/ (the embedded default). Written
/// atomically: a temp file, flushed to disk, then renamed over the final name, and the folder flushed so the rename
/// itself is durable. Each write returns the file's SHA-256 and length for its row; reads check them.
/// </summary>
public sealed class CheckpointFiles(string dataDirectory) : ICheckpointStore
{
    public string Root { get; } = Path.Combine(dataDirectory, "checkpoints");

    public string RelativePath(string tenantId, long version) => Path.Combine("checkpoints", tenantId, $"v{version:D8}.safetensors");

    /// <summary>θ a tenant was created with (an imported adapter); absent for a tenant that starts from its seed.</summary>
    public string InitialPath(string tenantId) => Path.Combine("checkpoints", tenantId, "initial.safetensors");

    public string FullPath(string relativePath) => Path.Combine(Path.GetDirectoryName(Root)!, relativePath);

    // One node, one data directory: the epoch does not need to be in the name.
    public Task<StoredCheckpoint> WriteAsync(string tenantId, long version, long epoch, byte[] bytes, CancellationToken ct = default)
    {
        var path = RelativePath(tenantId, version);
        return Task.FromResult(new StoredCheckpoint(path, WriteAtomically(path, bytes)));
    }

    public Task WriteInitialAsync(string tenantId, byte[] bytes, CancellationToken ct = default)
    {
        WriteAtomically(InitialPath(tenantId), bytes);
        return Task.CompletedTask;
    }

    public Task<byte[]?> ReadInitialAsync(string tenantId, CancellationToken ct = default)
    {
        var path = FullPath(InitialPath(tenantId));
        return Task.FromResult(File.Exists(path) ? File.ReadAllBytes(path) : null);
    }

    FileChecksum WriteAtomically(string relativePath, byte[] bytes)
    {
        var path = FullPath(relativePath);
        var folder = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(folder);
        var temp = path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
        FlushFolder(folder);
        // Hashed from the very bytes written, so the row records what the disk was asked to keep.
        return FileChecksum.Of(bytes);
    }

    public Task<byte[]> ReadVerifiedAsync(CheckpointRecord checkpoint, CancellationToken ct = default)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(FullPath(checkpoint.Path));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new CheckpointFileException(CheckpointFault.Missing, $"its file {checkpoint.Path} is missing", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointFileException(CheckpointFault.Unreadable, $"its file {checkpoint.Path} cannot be read: {e.Message}", e);
        }
        return Task.FromResult(CheckpointChecks.Verified(checkpoint, bytes));
    }

    public Task DeleteTenantAsync(string tenantId, CancellationToken ct = default)
    {
        var folder = Path.Combine(Root, tenantId);
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        return Task.CompletedTask;
    }

    public Task DeleteVersionsBeforeAsync(string tenantId, long version, CancellationToken ct = default)
    {
        var folder = Path.Combine(Root, tenantId);
        if (!Directory.Exists(folder)) return Task.CompletedTask;
        foreach (var path in Directory.EnumerateFiles(folder, "v*.safetensors*"))
        {
            var name = Path.GetFileName(path);
            var digits = name.AsSpan(1, name.IndexOf('.') - 1);
            if (long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v < version) File.Delete(path);
        }
        return Task.CompletedTask;
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
