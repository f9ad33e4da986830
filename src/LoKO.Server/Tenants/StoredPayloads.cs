using System.Text;
using LoKO.Contracts.Validation;
using LoKO.Engine.Imaging;
using LoKO.Engine.Models;
using LoKO.Server.Storage;
using Orleans;

namespace LoKO.Server.Tenants;

/// <summary>A validated input in the form the example log stores it.</summary>
[GenerateSerializer, Immutable]
public sealed record StoredPayload(PayloadKind Kind, byte[] Bytes, int Width, int Height)
{
    /// <summary>Rebuilds the model input (decodes an image file again; decoding is deterministic).</summary>
    public ModelInput ToModelInput() => Kind switch
    {
        PayloadKind.Text => new TextInput(Encoding.UTF8.GetString(Bytes)),
        PayloadKind.EncodedImage => new ImageInput(ImageDecoder.Decode(Bytes)),
        PayloadKind.Rgb => new ImageInput(new RgbImage(Width, Height, Bytes)),
        _ => throw new InvalidDataException($"unknown payload kind {Kind}"),
    };

    /// <summary>
    /// Converts a validated input; an image file that does not decode is a client mistake naming
    /// <paramref name="imageField"/>. Returns null (with an error added) when it is not usable.
    /// </summary>
    public static StoredPayload? From(InputPayload input, List<FieldError> errors, string imageField)
    {
        switch (input.Kind)
        {
            case InputKind.Text:
                return new StoredPayload(PayloadKind.Text, Encoding.UTF8.GetBytes(input.Text!), 0, 0);
            case InputKind.EncodedImage:
                try
                {
                    var image = ImageDecoder.Decode(input.ImageBytes!);
                    return new StoredPayload(PayloadKind.EncodedImage, input.ImageBytes!, image.Width, image.Height);
                }
                catch (Exception e) when (e is InvalidDataException or ArgumentException)
                {
                    errors.Add(new FieldError(imageField, $"is not a readable PNG or JPEG image: {e.Message}"));
                    return null;
                }
            case InputKind.Pixels:
                var rgb = RgbImage.FromPixels(input.PixelValues!, input.Width, input.Height);
                return new StoredPayload(PayloadKind.Rgb, rgb.Pixels, rgb.Width, rgb.Height);
            default:
                throw new ArgumentOutOfRangeException(nameof(input), input.Kind, "unknown input kind");
        }
    }
}

/// <summary>
/// An example ready to append: validated payload, label and optional idempotency key; feedback on a prediction also
/// carries what that prediction showed (<see cref="Shown"/>).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record NewExample(StoredPayload Payload, string Label, int LabelIndex, string? ExampleId, ShownPrediction? Shown = null);

/// <summary>What a prediction showed for an example learned from its feedback: the label index and the cross-entropy of the true label.</summary>
[GenerateSerializer, Immutable]
public sealed record ShownPrediction(int LabelIndex, double Loss);

/// <summary>What an append did with one example.</summary>
[GenerateSerializer, Immutable]
public sealed record AppendOutcome(long Sequence, bool Duplicate);

/// <summary>A logged example waiting to be learned; <see cref="Shown"/> is its prequential outcome when it came from feedback.</summary>
public sealed record PendingStep(long Sequence, StoredPayload Payload, int LabelIndex, ShownPrediction? Shown = null)
{
    /// <summary>A log entry read back (replay).</summary>
    public static PendingStep Of(ExampleRecord x) =>
        new(x.Sequence, new StoredPayload(x.PayloadKind, x.Payload, x.Width, x.Height), x.LabelIndex,
            x.ShownLabelIndex is { } shown ? new ShownPrediction(shown, x.ShownLoss ?? double.NaN) : null);
}
