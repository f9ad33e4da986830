namespace LoKO.Contracts.Validation;

/// <summary>A client mistake, naming the request field it concerns (camelCase, as on the wire).</summary>
public sealed record FieldError(string Field, string Message)
{
    public override string ToString() => $"{Field}: {Message}";
}

/// <summary>Thrown where a validation error has to cross a call boundary; both APIs map it to a 400 / INVALID_ARGUMENT.</summary>
public sealed class FieldValidationException(IReadOnlyList<FieldError> errors)
    : Exception(string.Join("; ", errors))
{
    public FieldValidationException(string field, string message) : this([new FieldError(field, message)]) { }

    public IReadOnlyList<FieldError> Errors { get; } = errors;

    public IDictionary<string, string[]> ToDictionary() =>
        Errors.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray());
}
