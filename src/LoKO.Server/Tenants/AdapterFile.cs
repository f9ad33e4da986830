using Orleans;

namespace LoKO.Server.Tenants;

/// <summary>A tenant's adapter as a safetensors file, and the last log sequence it has learned.</summary>
[GenerateSerializer, Immutable]
public sealed record AdapterFile(byte[] Safetensors, long AdapterVersion);
