using LoKO.Contracts.Validation;
using Orleans;

namespace LoKO.Server.Tenants;

/// <summary>
/// How a <see cref="FieldValidationException"/> thrown inside a tenant grain reaches its caller with every field
/// error (Orleans' generic exception copy keeps only the message). The contract type itself stays free of Orleans.
/// </summary>
[GenerateSerializer, Immutable]
public readonly record struct FieldValidationSurrogate(string[] Fields, string[] Messages);

[RegisterConverter]
public sealed class FieldValidationConverter : IConverter<FieldValidationException, FieldValidationSurrogate>
{
    public FieldValidationException ConvertFromSurrogate(in FieldValidationSurrogate surrogate) =>
        new(surrogate.Fields.Zip(surrogate.Messages, (field, message) => new FieldError(field, message)).ToList());

    public FieldValidationSurrogate ConvertToSurrogate(in FieldValidationException value) =>
        new(value.Errors.Select(e => e.Field).ToArray(), value.Errors.Select(e => e.Message).ToArray());
}
