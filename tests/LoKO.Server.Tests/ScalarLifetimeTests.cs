using System.Collections.Immutable;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using LoKO.Engine.Platform;

namespace LoKO.Server.Tests;

/// <summary>
/// No temporary TorchSharp Scalar in the engine or the server (<see cref="HeldScalars"/>: a GC during the native call
/// frees it under LibTorch; 8 of 20,000 steps failed so under load). Read from the compiled IL: every method that
/// makes a Scalar also disposes one (a <c>using</c>), and no method calls a TorchSharp member that makes one and
/// never disposes it (an implicit conversion, <c>a + b</c>'s alpha, <c>square()</c>'s exponent), directly or through
/// TorchSharp's own calls. TorchSharp's optimizers are out as a whole: their step() bodies are full of temporaries that
/// the call graph cannot follow (a virtual call), so the baselines have their own steps (AdamWStep, AdaGradStep, SgdStep).
/// </summary>
public sealed class ScalarLifetimeTests
{
    [Fact]
    public void NoMethodLeavesATemporaryScalarToTheFinalizer()
    {
        var torchSharp = typeof(TorchSharp.Scalar).Assembly.Location;
        var risky = TemporaryScalarMembers(torchSharp);
        Assert.Contains("TorchSharp.torch/Tensor::op_Addition(Tensor,Tensor)", risky); // the scan sees through calls
        Assert.Contains("TorchSharp.torch/Tensor::square()", risky);
        Assert.DoesNotContain("TorchSharp.torch/Tensor::op_Subtraction(Tensor,Tensor)", risky);
        var optimizers = OptimizerTypes();
        Assert.Contains("TorchSharp.torch/optim/Optimizer", optimizers);
        Assert.Contains("TorchSharp.Modules.AdamW", optimizers);
        Assert.Contains("TorchSharp.Modules.Adagrad", optimizers);
        Assert.Contains("TorchSharp.Modules.SGD", optimizers);

        string[] ours = [typeof(HeldScalars).Assembly.Location, typeof(LoKO.Server.Tenants.TenantActor).Assembly.Location];
        var violations = ours.SelectMany(path => Violations(path, risky, optimizers)).ToList();
        Assert.True(violations.Count == 0, "temporary scalars:\n" + string.Join("\n", violations));
    }

    static bool MakesScalar(string callee) =>
        callee.StartsWith("TorchSharp.Scalar::op_Implicit(", StringComparison.Ordinal) ||
        callee.StartsWith("TorchSharp.ScalarExtensionMethods::ToScalar(", StringComparison.Ordinal) ||
        callee == "TorchSharp.torch/Tensor::ToScalar()";

    // A `using` of a sealed class compiles to IDisposable.Dispose.
    static bool Disposes(List<string> callees) =>
        callees.Contains("TorchSharp.Scalar::Dispose()") || callees.Contains("System.IDisposable::Dispose()");

    static bool Leaves(string method, List<string> callees) =>
        callees.Any(MakesScalar) && !Disposes(callees) && !method.Contains("::.cctor(", StringComparison.Ordinal); // a static is never collected

    /// <summary>TorchSharp members that make a Scalar without disposing it, and every TorchSharp member that calls one.</summary>
    static HashSet<string> TemporaryScalarMembers(string path)
    {
        var risky = new HashSet<string>();
        var callers = new Dictionary<string, HashSet<string>>();
        foreach (var (method, callees) in Methods(path))
        {
            if (Leaves(method, callees)) risky.Add(method);
            foreach (var callee in callees)
            {
                if (!callers.TryGetValue(callee, out var set)) callers[callee] = set = [];
                set.Add(method);
            }
        }
        var frontier = new Queue<string>(risky);
        while (frontier.TryDequeue(out var member))
            foreach (var caller in callers.GetValueOrDefault(member) ?? [])
                if (risky.Add(caller)) frontier.Enqueue(caller);
        return risky;
    }

    /// <summary>TorchSharp's optimizer types (<c>torch.optim.Optimizer</c> and every class derived from it), named as in IL.</summary>
    static HashSet<string> OptimizerTypes() =>
        typeof(TorchSharp.torch.optim.Optimizer).Assembly.GetTypes()
            .Where(typeof(TorchSharp.torch.optim.Optimizer).IsAssignableFrom)
            .Select(t => t.FullName!.Replace('+', '/'))
            .ToHashSet();

    static bool StepsATorchSharpOptimizer(string callee, HashSet<string> optimizers) =>
        callee.IndexOf("::step(", StringComparison.Ordinal) is > 0 and var at && optimizers.Contains(callee[..at]);

    static IEnumerable<string> Violations(string path, HashSet<string> risky, HashSet<string> optimizers)
    {
        foreach (var (method, callees) in Methods(path))
        {
            if (Leaves(method, callees))
                yield return $"{Path.GetFileName(path)}: {method} makes a Scalar it never disposes";
            foreach (var callee in callees.Where(risky.Contains).Distinct())
                yield return $"{Path.GetFileName(path)}: {method} calls {callee}";
            foreach (var callee in callees.Where(c => StepsATorchSharpOptimizer(c, optimizers)).Distinct())
                yield return $"{Path.GetFileName(path)}: {method} calls TorchSharp's optimizer step {callee}";
        }
    }

    /// <summary>Every method with a body, named type::name(parameter types), with the methods it calls.</summary>
    static IEnumerable<(string Method, List<string> Callees)> Methods(string path)
    {
        using var pe = new PEReader(File.OpenRead(path));
        var md = pe.GetMetadataReader();
        foreach (var typeHandle in md.TypeDefinitions)
        foreach (var methodHandle in md.GetTypeDefinition(typeHandle).GetMethods())
        {
            var method = md.GetMethodDefinition(methodHandle);
            if (method.RelativeVirtualAddress == 0) continue;
            var callees = new List<string>();
            var il = pe.GetMethodBody(method.RelativeVirtualAddress).GetILReader();
            while (il.RemainingBytes > 0)
            {
                int op = il.ReadByte();
                if (op == 0xFE) op = 0xFE00 | il.ReadByte();
                if (op is 0x28 or 0x6F or 0x73 or 0xFE06) // call, callvirt, newobj, ldftn
                {
                    if (Name(md, MetadataTokens.EntityHandle(il.ReadInt32())) is { } callee) callees.Add(callee);
                }
                else
                {
                    int size = OperandSize(op, ref il);
                    il.Offset += size;
                }
            }
            yield return (Name(md, methodHandle), callees);
        }
    }

    /// <summary>Bytes of an IL operand (ECMA-335 III); switch reads its count here.</summary>
    static int OperandSize(int op, ref BlobReader il) => op switch
    {
        0x45 => 4 * il.ReadInt32(),
        0x21 or 0x23 => 8,
        0x0E or 0x0F or 0x10 or 0x11 or 0x12 or 0x13 or 0x1F or 0xDE or 0xFE12 or 0xFE19 => 1,
        >= 0x2B and <= 0x37 => 1,
        >= 0x38 and <= 0x44 => 4,
        0x20 or 0x22 or 0xDD or 0x27 or 0x29 or 0x70 or 0x71 or 0x72 or 0x74 or 0x75 or 0x79 or 0x7B or 0x7C or 0x7D or 0x7E
            or 0x7F or 0x80 or 0x81 or 0x8C or 0x8D or 0x8F or 0xA3 or 0xA4 or 0xA5 or 0xC2 or 0xC6 or 0xD0 => 4,
        0xFE07 or 0xFE15 or 0xFE16 or 0xFE1C => 4,
        0xFE09 or 0xFE0A or 0xFE0B or 0xFE0C or 0xFE0D or 0xFE0E => 2,
        _ => 0,
    };

    static string? Name(MetadataReader md, EntityHandle handle)
    {
        if (handle.Kind == HandleKind.MethodSpecification) handle = md.GetMethodSpecification((MethodSpecificationHandle)handle).Method;
        if (handle.Kind == HandleKind.MethodDefinition) return Name(md, (MethodDefinitionHandle)handle);
        if (handle.Kind != HandleKind.MemberReference) return null;
        var reference = md.GetMemberReference((MemberReferenceHandle)handle);
        if (reference.GetKind() != MemberReferenceKind.Method || reference.Parent.Kind != HandleKind.TypeReference) return null;
        var signature = reference.DecodeMethodSignature(new TypeNames(), null);
        return $"{TypeName(md, (TypeReferenceHandle)reference.Parent)}::{md.GetString(reference.Name)}({string.Join(",", signature.ParameterTypes)})";
    }

    static string Name(MetadataReader md, MethodDefinitionHandle handle)
    {
        var method = md.GetMethodDefinition(handle);
        var signature = method.DecodeSignature(new TypeNames(), null);
        return $"{TypeName(md, md.GetTypeDefinition(method.GetDeclaringType()))}::{md.GetString(method.Name)}({string.Join(",", signature.ParameterTypes)})";
    }

    static string TypeName(MetadataReader md, TypeDefinition type) =>
        type.GetDeclaringType() is { IsNil: false } outer
            ? $"{TypeName(md, md.GetTypeDefinition(outer))}/{md.GetString(type.Name)}"
            : $"{md.GetString(type.Namespace)}.{md.GetString(type.Name)}";

    static string TypeName(MetadataReader md, TypeReferenceHandle handle)
    {
        var type = md.GetTypeReference(handle);
        return type.ResolutionScope.Kind == HandleKind.TypeReference
            ? $"{TypeName(md, (TypeReferenceHandle)type.ResolutionScope)}/{md.GetString(type.Name)}"
            : $"{md.GetString(type.Namespace)}.{md.GetString(type.Name)}";
    }

    /// <summary>Parameter types by their short names: enough to tell TorchSharp's overloads apart.</summary>
    sealed class TypeNames : ISignatureTypeProvider<string, object?>
    {
        public string GetArrayType(string elementType, ArrayShape shape) => elementType + "[,]";
        public string GetByReferenceType(string elementType) => elementType + "&";
        public string GetFunctionPointerType(MethodSignature<string> signature) => "fnptr";
        public string GetGenericInstantiation(string genericType, ImmutableArray<string> typeArguments) => $"{genericType}<{string.Join(",", typeArguments)}>";
        public string GetGenericMethodParameter(object? context, int index) => "!!" + index;
        public string GetGenericTypeParameter(object? context, int index) => "!" + index;
        public string GetModifiedType(string modifier, string unmodifiedType, bool isRequired) => unmodifiedType;
        public string GetPinnedType(string elementType) => elementType;
        public string GetPointerType(string elementType) => elementType + "*";
        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode.ToString();
        public string GetSZArrayType(string elementType) => elementType + "[]";
        public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) => reader.GetString(reader.GetTypeDefinition(handle).Name);
        public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) => reader.GetString(reader.GetTypeReference(handle).Name);
        public string GetTypeFromSpecification(MetadataReader reader, object? context, TypeSpecificationHandle handle, byte rawTypeKind) => "spec";
    }
}
