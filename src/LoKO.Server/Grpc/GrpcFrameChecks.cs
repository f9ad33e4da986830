using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Globalization;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace LoKO.Server.Grpc;

/// <summary>
/// Checks the gRPC framing of a call's request body as grpc-dotnet reads it: each frame's flag byte is 0 or 1, a
/// compressed frame comes with a grpc-encoding, no frame is longer than the message limit, a unary call sends one
/// message, and the body does not end inside a frame. A violation is <see cref="MalformedRequest"/> (or
/// RESOURCE_EXHAUSTED for the limit); grpc-dotnet itself answers these UNKNOWN or INTERNAL.
/// </summary>
public static class GrpcFrameChecks
{
    public static IApplicationBuilder UseGrpcFrameChecks(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<GrpcMethodMetadata>() is { } grpc)
        {
            var encoding = context.Request.Headers["grpc-encoding"].ToString();
            int limit = context.RequestServices.GetRequiredService<IOptions<GrpcServiceOptions>>().Value.MaxReceiveMessageSize ?? int.MaxValue;
            bool single = grpc.Method.Type is MethodType.Unary or MethodType.ServerStreaming;
            var reader = new FrameCheckingReader(context.Request.BodyReader, compressed: encoding.Length > 0 && encoding != "identity", single, limit);
            context.Features.Set<IRequestBodyPipeFeature>(new Body(reader));
        }
        return next(context);
    });

    sealed class Body(PipeReader reader) : IRequestBodyPipeFeature
    {
        public PipeReader Reader => reader;
    }

    /// <summary>Reads frame headers as the bytes go by, in step with what the reader's user consumes.</summary>
    sealed class FrameCheckingReader(PipeReader inner, bool compressed, bool single, int limit) : PipeReader
    {
        const int HeaderSize = 5;

        ReadOnlySequence<byte> _buffer;
        long _consumed;   // bytes before _buffer's start
        long _nextFrame;  // where the next frame header starts
        int _frames;

        public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) => Check(await inner.ReadAsync(cancellationToken));

        public override bool TryRead(out ReadResult result)
        {
            if (!inner.TryRead(out result)) return false;
            result = Check(result);
            return true;
        }

        public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
            _consumed += _buffer.Slice(_buffer.Start, consumed).Length;
            inner.AdvanceTo(consumed, examined);
        }

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        ReadResult Check(ReadResult result)
        {
            _buffer = result.Buffer;
            long end = _consumed + _buffer.Length;
            Span<byte> header = stackalloc byte[HeaderSize];
            while (_nextFrame + HeaderSize <= end)
            {
                _buffer.Slice(_nextFrame - _consumed, HeaderSize).CopyTo(header);
                int frame = _frames + 1;
                if (header[0] > 1) throw MalformedRequest.Error($"frame {frame}: the compressed flag is {header[0]}; gRPC defines 0 and 1");
                if (header[0] == 1 && !compressed) throw MalformedRequest.Error($"frame {frame} is compressed, but the call names no grpc-encoding");
                if (single && _frames == 1) throw MalformedRequest.Error("a unary call takes one message; this one sends more");
                uint length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
                if (length > limit)
                    throw new RpcException(new Status(StatusCode.ResourceExhausted,
                        $"frame {frame} holds {length.ToString(CultureInfo.InvariantCulture)} bytes; a message may hold {limit.ToString(CultureInfo.InvariantCulture)}"));
                _frames++;
                _nextFrame += HeaderSize + length;
            }
            if (result.IsCompleted)
            {
                if (end != _nextFrame) throw MalformedRequest.Error($"the request ends inside frame {_frames + (end > _nextFrame ? 1 : 0)}");
                if (single && _frames == 0) throw MalformedRequest.Error("the request holds no message");
            }
            return result;
        }
    }
}
