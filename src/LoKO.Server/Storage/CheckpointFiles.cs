using System.Globalization;
using System.Security.Cryptography;

namespace LoKO.Server.Storage;

/// <summary>What a checkpoint file's row records of it, to check it by when it is loaded.</summary>
public sealed record FileChecksum(string Sha256, long Size);

/// <summary>Why a checkpoint could not be restored; <see cref="CheckpointFaults.Label"/> is the metric's reason label.</summary>
public enum CheckpointFault
{
    /// <summary>The file (or its row) is gone.</summary>
    Missing,
    /// <summary>Shorter than its row records.</summary>
    Truncated,
    /// <summary>Its SHA-256 (or length) is not the one its row records.</summary>
    Checksum,
    /// <summary>Read whole (and matching its checksum, if it has one) but it does not parse or does not fit the tenant.</summary>
    Invalid,
    /// <summary>The file system refused to read it.</summary>
    Unreadable,
}

public static class CheckpointFaults
{
    public static string Label(this CheckpointFault fault) => fault switch
    {
        CheckpointFault.Missing => "missing",
        CheckpointFault.Truncated => "truncated",
        CheckpointFault.Checksum => "checksum",
        CheckpointFault.Invalid => "invalid",
        _ => "unreadable",
    };
}

/// <summary>A checkpoint file that cannot be used, and why.</summary>
public sealed class CheckpointFileException(CheckpointFault fault, string message, Exception? inner = null) : Exception(message, inner)
{
    public CheckpointFault Fault { get; } = fault;
}

/// <summary>
/// Checkpoint blobs as files under &lt;data dir&gt;/checkpoints/&lt;tenant&gt;/. Written atomically: a temp file,
/// flushed to disk, then renamed over the final name, and the folder flushed so the rename itself is durable.
/// Each write returns the file's SHA-256 and length for its row; <see cref="ReadVerified"/> checks them.
/// </summary>
public sealed class CheckpointFiles(string dataDirectory)
{
    public string Root { get; } = Path.Combine(dataDirectory, "checkpoints");

    public string RelativePath(string tenantId, long version) => Path.Combine("checkpoints", tenantId, $"v{version:D8}.safetensors");

    /// <summary>θ a tenant was created with (an imported adapter); absent for a tenant that starts from its seed.</summary>
    public string InitialPath(string tenantId) => Path.Combine("checkpoints", tenantId, "initial.safetensors");

    public bool Exists(string relativePath) => File.Exists(FullPath(relativePath));

    public string FullPath(string relativePath) => Path.Combine(Path.GetDirectoryName(Root)!, relativePath);

    public FileChecksum WriteAtomically(string relativePath, Action<Stream> write)
    {
        using var buffer = new MemoryStream();
        write(buffer);
        return WriteAtomically(relativePath, buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
    }

    /// <summary>Writes <paramref name="bytes"/> as the file; it is on disk (fsynced, renamed, folder fsynced) when this returns.</summary>
    public FileChecksum WriteAtomically(string relativePath, ReadOnlySpan<byte> bytes)
    {
        // Hashed from the very bytes written, so the row records what the disk was asked to keep.
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
        return new FileChecksum(Convert.ToHexStringLower(SHA256.HashData(bytes)), bytes.Length);
    }

    /// <summary>
    /// The checkpoint's file, read whole and checked against the length and SHA-256 its row records (rows written
    /// before checksums were kept are not checked). Throws <see cref="CheckpointFileException"/> saying what is wrong.
    /// </summary>
    public byte[] ReadVerified(CheckpointRecord checkpoint)
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
        string N(long n) => n.ToString(CultureInfo.InvariantCulture);
        if (checkpoint.SizeBytes is { } size && bytes.Length != size)
            throw new CheckpointFileException(bytes.Length < size ? CheckpointFault.Truncated : CheckpointFault.Checksum,
                $"its file {checkpoint.Path} has {N(bytes.Length)} bytes, its row records {N(size)}");
        if (checkpoint.Sha256 is { } expected && Convert.ToHexStringLower(SHA256.HashData(bytes)) is var actual && actual != expected)
            throw new CheckpointFileException(CheckpointFault.Checksum, $"its file {checkpoint.Path} has SHA-256 {actual}, its row records {expected}");
        return bytes;
    }

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
