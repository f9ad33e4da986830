using System.Reflection;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using V1 = LoKO.Contracts.V1;

namespace LoKO.Server.Grpc;

/// <summary>
/// Binds the LoKO service's methods as grpc-dotnet's own binder does, but with request marshallers that answer a
/// message that is not valid protobuf (cut short, garbage, invalid UTF-8 in a string, nested past the recursion limit)
/// with <see cref="MalformedRequest"/>, as REST answers malformed JSON. grpc-dotnet itself answers such a unary call
/// UNKNOWN ("Exception was thrown by handler"), and a stream's parse error reached the service as an IOException.
/// It replaces the default binder (LoKOServer removes it), so each method is bound once.
/// </summary>
public sealed class StrictMessageMethodProvider : IServiceMethodProvider<LoKOGrpcService>
{
    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<LoKOGrpcService> context) =>
        V1.LoKO.BindService(new Binder(context), null!);

    sealed class Binder(ServiceMethodProviderContext<LoKOGrpcService> context) : ServiceBinderBase
    {
        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler) =>
            context.AddUnaryMethod(Strict(method), [], Invoker<UnaryServerMethod<LoKOGrpcService, TRequest, TResponse>>(method));

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler) =>
            context.AddClientStreamingMethod(Strict(method), [], Invoker<ClientStreamingServerMethod<LoKOGrpcService, TRequest, TResponse>>(method));

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler) =>
            context.AddServerStreamingMethod(Strict(method), [], Invoker<ServerStreamingServerMethod<LoKOGrpcService, TRequest, TResponse>>(method));

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler) =>
            context.AddDuplexStreamingMethod(Strict(method), [], Invoker<DuplexStreamingServerMethod<LoKOGrpcService, TRequest, TResponse>>(method));
    }

    /// <summary>The service's override of the method, as a delegate that takes the service instance first.</summary>
    static TDelegate Invoker<TDelegate>(IMethod method) where TDelegate : Delegate =>
        (typeof(LoKOGrpcService).GetMethod(method.Name, BindingFlags.Public | BindingFlags.Instance)
         ?? throw new InvalidOperationException($"{nameof(LoKOGrpcService)} does not implement {method.FullName}")).CreateDelegate<TDelegate>();

    static Method<TRequest, TResponse> Strict<TRequest, TResponse>(Method<TRequest, TResponse> method) where TRequest : class where TResponse : class
    {
        var parse = method.RequestMarshaller.ContextualDeserializer;
        var request = Marshallers.Create(method.RequestMarshaller.ContextualSerializer, context =>
        {
            try { return parse(context); }
            catch (InvalidProtocolBufferException e)
            {
                throw MalformedRequest.Error($"the request message is not valid protobuf: {e.Message}");
            }
        });
        return new Method<TRequest, TResponse>(method.Type, method.ServiceName, method.Name, request, method.ResponseMarshaller);
    }
}
