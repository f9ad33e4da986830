using System.Text.RegularExpressions;
using LoKO.Contracts.Rest;

namespace LoKO.Contracts.Validation;

/// <summary>
/// The validation rules both APIs share. Every method returns the errors it found, each naming the field
/// (prefixed, e.g. "[3].label" for the fourth example of a batch); an empty list means valid.
/// </summary>
public static partial class RequestValidator
{
    public const int MaxTenantIdLength = 64;
    public const int MaxLabels = 1000;
    public static IReadOnlyList<string> Optimizers { get; } = ["loko", "adamw", "adagrad", "sgd"];
    public static IReadOnlyList<string> InitialCovariances { get; } = ["auto", "autonormalised", "constant", "bounded"];
    public static IReadOnlyList<string> NoiseStructures { get; } = ["full", "diagonal"];

    /// <summary>Tenant ids become folder names: letters, digits, '.', '_' and '-', starting with a letter or digit.</summary>
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    private static partial Regex TenantIdPattern();

    public static List<FieldError> ValidateTenantId(string? tenantId, string field = "tenantId")
    {
        var errors = new List<FieldError>();
        if (string.IsNullOrEmpty(tenantId)) errors.Add(new(field, "is required"));
        else if (tenantId.Length > MaxTenantIdLength) errors.Add(new(field, $"must be at most {MaxTenantIdLength} characters"));
        else if (!TenantIdPattern().IsMatch(tenantId)) errors.Add(new(field, "may hold only letters, digits, '.', '_' and '-', and must start with a letter or digit"));
        return errors;
    }

    /// <param name="variants">The LoKO filter variants the server knows (filter.variant must name one).</param>
    public static List<FieldError> ValidateCreateTenant(CreateTenantRequest request, IReadOnlyCollection<string> presets,
                                                        IReadOnlyCollection<string> variants, InputLimits limits)
    {
        var errors = ValidateTenantId(request.TenantId);
        if (string.IsNullOrEmpty(request.Preset)) errors.Add(new("preset", $"is required: one of {string.Join(", ", presets)}"));
        else if (!presets.Contains(request.Preset)) errors.Add(new("preset", $"unknown preset '{Truncate(request.Preset, 64)}': one of {string.Join(", ", presets)}"));

        if (request.Labels is null || request.Labels.Count < 2) errors.Add(new("labels", "needs at least two labels"));
        else if (request.Labels.Count > MaxLabels) errors.Add(new("labels", $"holds at most {MaxLabels} labels"));
        else
        {
            for (int i = 0; i < request.Labels.Count; i++)
            {
                var label = request.Labels[i];
                if (string.IsNullOrWhiteSpace(label)) errors.Add(new($"labels[{i}]", "must not be empty"));
                else if (label.Length > limits.MaxLabelLength) errors.Add(new($"labels[{i}]", $"must be at most {limits.MaxLabelLength} characters"));
            }
            var duplicate = request.Labels.GroupBy(l => l, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
            if (duplicate is not null) errors.Add(new("labels", $"label '{duplicate.Key}' appears more than once"));
        }

        if (request.Seed is < 0) errors.Add(new("seed", "must be zero or positive"));

        if (request.Optimizer is not null && !Optimizers.Contains(request.Optimizer))
            errors.Add(new("optimizer", $"unknown optimizer '{Truncate(request.Optimizer, 64)}': one of {string.Join(", ", Optimizers)}"));

        if (request.Lora is { } lora)
        {
            if (lora.Rank is { } rank && (rank < 1 || rank > 256)) errors.Add(new("lora.rank", "must be between 1 and 256"));
            if (lora.Alpha is { } alpha && (!double.IsFinite(alpha) || alpha <= 0)) errors.Add(new("lora.alpha", "must be a positive number"));
            if (lora.Targets is { } targets)
            {
                if (targets.Count == 0) errors.Add(new("lora.targets", "when given, must name at least one site glob"));
                for (int i = 0; i < targets.Count; i++)
                    if (string.IsNullOrWhiteSpace(targets[i])) errors.Add(new($"lora.targets[{i}]", "must not be empty"));
            }
        }

        if (request.Filter is { } f)
        {
            if (f.Variant is not null && !variants.Contains(f.Variant))
                errors.Add(new("filter.variant", $"unknown filter variant '{Truncate(f.Variant, 64)}': one of {string.Join(", ", variants)}"));
            if (f.P0 is not null && !InitialCovariances.Contains(f.P0)) errors.Add(new("filter.p0", $"one of {string.Join(", ", InitialCovariances)}"));
            if (f.Noise is not null && !NoiseStructures.Contains(f.Noise)) errors.Add(new("filter.noise", $"one of {string.Join(", ", NoiseStructures)}"));
            Positive(f.P0Constant, "filter.p0Constant", errors);
            Positive(f.R0, "filter.r0", errors);
            Positive(f.LearningRate, "filter.learningRate", errors);
            if (f.Beta is { } beta && !(beta >= 0 && beta < 1)) errors.Add(new("filter.beta", "must lie in [0, 1)"));
            if (f.Q is { } q && (!double.IsFinite(q) || q < 0)) errors.Add(new("filter.q", "must be zero or positive"));
        }
        if (request.Quotas is { } quotas) errors.AddRange(ValidateQuotas(quotas));
        return errors;
    }

    /// <summary>The most a rate quota may allow (per second).</summary>
    public const double MaxRate = 1_000_000;

    /// <summary>Per-tenant quotas: each given limit 0 (unlimited) or positive; fields are named "quotas.…".</summary>
    public static List<FieldError> ValidateQuotas(TenantQuotas quotas, string prefix = "quotas.")
    {
        var errors = new List<FieldError>();
        Rate(quotas.ExamplesPerSecond, prefix + "examplesPerSecond", errors);
        Rate(quotas.PredictionsPerSecond, prefix + "predictionsPerSecond", errors);
        if (quotas.MaxLogEntries is < 0) errors.Add(new(prefix + "maxLogEntries", "must be zero (unlimited) or positive"));
        return errors;
    }

    static void Rate(double? value, string field, List<FieldError> errors)
    {
        if (value is { } v && (!double.IsFinite(v) || v < 0 || v > MaxRate))
            errors.Add(new(field, $"must be zero (unlimited) or a positive number of at most {MaxRate:0} per second"));
    }

    static void Positive(double? value, string field, List<FieldError> errors)
    {
        if (value is { } v && (!double.IsFinite(v) || v <= 0)) errors.Add(new(field, "must be a positive number"));
    }

    /// <summary>
    /// Labels to add to a live tenant (<paramref name="existing"/> its labels now): at least one, none empty or too long,
    /// none twice, none it already has, and no more than <see cref="MaxLabels"/> in all. Each error names <c>labels</c>
    /// and quotes the offending value.
    /// </summary>
    public static List<FieldError> ValidateNewLabels(IReadOnlyList<string?>? labels, IReadOnlyList<string> existing, InputLimits limits)
    {
        var errors = new List<FieldError>();
        if (labels is null || labels.Count == 0)
        {
            errors.Add(new("labels", "needs at least one label to add"));
            return errors;
        }
        for (int i = 0; i < labels.Count; i++)
        {
            var label = labels[i];
            if (string.IsNullOrWhiteSpace(label)) errors.Add(new($"labels[{i}]", $"must not be empty or whitespace (got '{label}')"));
            else if (label.Length > limits.MaxLabelLength) errors.Add(new($"labels[{i}]", $"'{Truncate(label, 64)}' is longer than {limits.MaxLabelLength} characters"));
            else if (existing.Contains(label, StringComparer.Ordinal)) errors.Add(new($"labels[{i}]", $"'{Truncate(label, 64)}' is already one of the tenant's labels"));
        }
        var duplicate = labels.OfType<string>().GroupBy(l => l, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) errors.Add(new("labels", $"label '{Truncate(duplicate.Key, 64)}' appears more than once"));
        if (existing.Count + labels.Count > MaxLabels)
            errors.Add(new("labels", $"the tenant has {existing.Count} labels and would have {existing.Count + labels.Count}: at most {MaxLabels}"));
        return errors;
    }

    /// <summary>The label's index in the tenant's label set, or an error naming <paramref name="field"/>.</summary>
    public static int ValidateLabel(string? label, IReadOnlyList<string> labels, List<FieldError> errors, string field = "label")
    {
        if (string.IsNullOrEmpty(label))
        {
            errors.Add(new(field, "is required"));
            return -1;
        }
        for (int i = 0; i < labels.Count; i++)
            if (string.Equals(labels[i], label, StringComparison.Ordinal)) return i;
        errors.Add(new(field, $"'{Truncate(label, 64)}' is not one of the tenant's labels ({string.Join(", ", labels.Take(20))}{(labels.Count > 20 ? ", …" : "")})"));
        return -1;
    }

    public static void ValidateExampleId(string? exampleId, InputLimits limits, List<FieldError> errors, string field = "exampleId")
    {
        if (exampleId is null) return;
        if (exampleId.Length == 0) errors.Add(new(field, "when given, must not be empty"));
        else if (exampleId.Length > limits.MaxExampleIdLength) errors.Add(new(field, $"must be at most {limits.MaxExampleIdLength} characters"));
    }

    public const int MaxPredictionIdLength = 64;

    /// <summary>A prediction id as a predict answered it: required, at most <see cref="MaxPredictionIdLength"/> characters.</summary>
    public static void ValidatePredictionId(string? predictionId, List<FieldError> errors, string field = "predictionId")
    {
        if (string.IsNullOrEmpty(predictionId)) errors.Add(new(field, "is required: the predictionId a predict answered"));
        else if (predictionId.Length > MaxPredictionIdLength) errors.Add(new(field, $"must be at most {MaxPredictionIdLength} characters"));
    }

    /// <summary>A REST input: exactly one of text, imageBase64, pixels, matching the tenant's modality.</summary>
    public static InputPayload? ValidateInput(InputDto input, InputModality modality, InputLimits limits, List<FieldError> errors, string prefix = "")
    {
        int given = (input.Text is not null ? 1 : 0) + (input.ImageBase64 is not null ? 1 : 0) + (input.Pixels is not null ? 1 : 0);
        if (given != 1)
        {
            var expected = modality == InputModality.Text ? "text" : "imageBase64 or pixels";
            errors.Add(new(prefix + (modality == InputModality.Text ? "text" : "imageBase64"),
                given == 0 ? $"an input is required: this tenant takes {expected}" : "give exactly one of text, imageBase64, pixels"));
            return null;
        }
        if (input.Text is not null) return ValidateText(input.Text, modality, limits, errors, prefix + "text");
        if (input.ImageBase64 is not null)
        {
            if (!RequireModality(InputModality.Image, modality, prefix + "imageBase64", errors)) return null;
            // Base64 inflates by 4/3: reject oversize before decoding.
            if (input.ImageBase64.Length > (limits.MaxImageBytes + 2L) / 3 * 4 + 4)
            {
                errors.Add(new(prefix + "imageBase64", $"the image must be at most {limits.MaxImageBytes} bytes"));
                return null;
            }
            byte[] bytes;
            try { bytes = Convert.FromBase64String(input.ImageBase64); }
            catch (FormatException)
            {
                errors.Add(new(prefix + "imageBase64", "is not valid base64"));
                return null;
            }
            return ValidateImageBytes(bytes, modality, limits, errors, prefix + "imageBase64");
        }
        var p = input.Pixels!;
        return ValidatePixels(p.Width, p.Height, p.Values, modality, limits, errors, prefix + "pixels");
    }

    public static InputPayload? ValidateText(string text, InputModality modality, InputLimits limits, List<FieldError> errors, string field = "text")
    {
        if (!RequireModality(InputModality.Text, modality, field, errors)) return null;
        if (string.IsNullOrWhiteSpace(text)) { errors.Add(new(field, "must not be empty")); return null; }
        if (text.Length > limits.MaxTextLength) { errors.Add(new(field, $"must be at most {limits.MaxTextLength} characters, not {text.Length}")); return null; }
        return InputPayload.FromText(text);
    }

    public static InputPayload? ValidateImageBytes(byte[] bytes, InputModality modality, InputLimits limits, List<FieldError> errors, string field = "image")
    {
        if (!RequireModality(InputModality.Image, modality, field, errors)) return null;
        if (bytes.Length == 0) { errors.Add(new(field, "must not be empty")); return null; }
        if (bytes.Length > limits.MaxImageBytes) { errors.Add(new(field, $"the image must be at most {limits.MaxImageBytes} bytes, not {bytes.Length}")); return null; }
        return InputPayload.FromImage(bytes);
    }

    public static InputPayload? ValidatePixels(int? width, int? height, IReadOnlyList<double>? values, InputModality modality, InputLimits limits,
                                               List<FieldError> errors, string field = "pixels")
    {
        if (!RequireModality(InputModality.Image, modality, field, errors)) return null;
        int before = errors.Count;
        if (width is not { } w || w < 1 || w > limits.MaxImageSide) errors.Add(new(field + ".width", $"must be between 1 and {limits.MaxImageSide}"));
        if (height is not { } h || h < 1 || h > limits.MaxImageSide) errors.Add(new(field + ".height", $"must be between 1 and {limits.MaxImageSide}"));
        if (errors.Count > before) return null;
        long area = (long)width!.Value * height!.Value;
        if (area > limits.MaxImagePixels) { errors.Add(new(field, $"an image holds at most {limits.MaxImagePixels} pixels, not {area}")); return null; }
        if (values is null || (values.Count != area && values.Count != 3 * area))
        {
            errors.Add(new(field + ".values", $"a {width}×{height} image takes {area} grayscale or {3 * area} RGB values, not {values?.Count ?? 0}"));
            return null;
        }
        var copy = new double[values.Count];
        for (int i = 0; i < copy.Length; i++)
        {
            double v = values[i];
            if (!double.IsFinite(v) || v < 0 || v > 255)
            {
                errors.Add(new(field + ".values", $"value {v} at index {i} is not a finite number in [0, 255]"));
                return null;
            }
            copy[i] = v;
        }
        return InputPayload.FromPixels(width.Value, height.Value, copy);
    }

    static bool RequireModality(InputModality given, InputModality expected, string field, List<FieldError> errors)
    {
        if (given == expected) return true;
        errors.Add(new(field, expected == InputModality.Text
            ? "this tenant's model takes text, not images"
            : "this tenant's model takes images (imageBase64 or pixels), not text"));
        return false;
    }

    /// <summary>What an error message quotes of a client's value: never all of it (a gRPC status travels in a header).</summary>
    static string Truncate(string s, int max) => s.Length <= max ? s : s[..max] + "…";
}
