using Grpc.Core;

namespace LoKO.Server.Grpc;

/// <summary>
/// A request the server cannot read as gRPC frames of protobuf messages: INVALID_ARGUMENT with the field "body", as
/// REST names a body that is not JSON. (grpc-dotnet's own answers are UNKNOWN or INTERNAL, which say "server fault".)
/// </summary>
public static class MalformedRequest
{
    public const string Field = "body";

    public static RpcException Error(string message) =>
        new(new Status(StatusCode.InvalidArgument, message), new Metadata { { "field", Field } });
}
