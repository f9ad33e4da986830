using System.IO.Compression;
using Grpc.Net.Compression;

namespace LoKO.Server.Grpc;

/// <summary>
/// gRPC's gzip message encoding (the server's only one), whose decompression answers data that does not inflate with
/// <see cref="MalformedRequest"/>; grpc-dotnet's own provider lets the InvalidDataException escape, which it answers UNKNOWN.
/// </summary>
public sealed class StrictGzip : ICompressionProvider
{
    readonly GzipCompressionProvider _gzip = new(CompressionLevel.Fastest);

    public string EncodingName => _gzip.EncodingName;

    public Stream CreateCompressionStream(Stream stream, CompressionLevel? compressionLevel) => _gzip.CreateCompressionStream(stream, compressionLevel);

    public Stream CreateDecompressionStream(Stream stream) => new Inflating(_gzip.CreateDecompressionStream(stream));

    sealed class Inflating(Stream inner) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            try { return inner.Read(buffer); }
            catch (InvalidDataException e) { throw MalformedRequest.Error($"the request message is not valid gzip: {e.Message}"); }
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
