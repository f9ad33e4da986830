namespace LoKO.Engine.Imaging;

/// <summary>
/// A read-only memory stream that cannot be positioned past its end. StbImageSharp skips
/// segments by seeking and detects the end with <c>Position == Length</c>; on a plain
/// MemoryStream a segment length that overshoots leaves Position beyond Length, and the JPEG
/// marker loop then never sees the end and spins forever.
/// </summary>
internal sealed class BoundedReadStream(byte[] bytes) : MemoryStream(bytes, writable: false)
{
    public override long Position
    {
        get => base.Position;
        set => base.Position = Math.Min(value, Length);
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        var target = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => base.Position + offset,
            SeekOrigin.End => Length + offset,
            _ => throw new ArgumentOutOfRangeException(nameof(origin)),
        };
        // Before the start stays an error (MemoryStream throws IOException): clamping it to 0
        // would make the decoder re-read the file from the top.
        return base.Seek(Math.Min(target, Length), SeekOrigin.Begin);
    }
}
