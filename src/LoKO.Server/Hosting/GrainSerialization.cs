using LoKO.Contracts.Rest;
using Orleans.Serialization;

namespace LoKO.Server.Hosting;

/// <summary>
/// How values cross grain calls: the server's own types carry Orleans' generated serializers; the wire-contract
/// DTOs they return (LoKO.Contracts, kept free of Orleans) travel as JSON, the form they were designed for.
/// Contract exceptions have their own converters (<see cref="Tenants.FieldValidationConverter"/>).
/// </summary>
public static class GrainSerialization
{
    public static ISerializerBuilder AddLoKOContracts(this ISerializerBuilder serializer) =>
        serializer.AddJsonSerializer(isSupported: type =>
            type.Assembly == typeof(TenantResponse).Assembly && !typeof(Exception).IsAssignableFrom(type));
}
