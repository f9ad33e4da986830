using System.Globalization;
using System.Security.Cryptography;

namespace LoKO.Server.Storage;

/// <summary>What a checkpoint file's row records of it, to check it by when it is loaded.</summary>
public sealed record FileChecksum(string Sha256, long Size)
{
    public static FileChecksum Of(ReadOnlySpan<byte> bytes) => new(Convert.ToHexStringLower(SHA256.HashData(bytes)), bytes.Length);
}

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

/// <summary>The checks every store makes of a checkpoint blob it read, against what its row records.</summary>
public static class CheckpointChecks
{
    /// <summary>
    /// The length and SHA-256 the row records (rows written before checksums were kept are not checked); throws
    /// <see cref="CheckpointFileException"/> saying what is wrong.
    /// </summary>
    public static byte[] Verified(CheckpointRecord checkpoint, byte[] bytes)
    {
        string N(long n) => n.ToString(CultureInfo.InvariantCulture);
        if (checkpoint.SizeBytes is { } size && bytes.Length != size)
            throw new CheckpointFileException(bytes.Length < size ? CheckpointFault.Truncated : CheckpointFault.Checksum,
                $"its file {checkpoint.Path} has {N(bytes.Length)} bytes, its row records {N(size)}");
        if (checkpoint.Sha256 is { } expected && Convert.ToHexStringLower(SHA256.HashData(bytes)) is var actual && actual != expected)
            throw new CheckpointFileException(CheckpointFault.Checksum, $"its file {checkpoint.Path} has SHA-256 {actual}, its row records {expected}");
        return bytes;
    }
}
