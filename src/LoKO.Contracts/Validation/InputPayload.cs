namespace LoKO.Contracts.Validation;

public enum InputModality { Text, Image }

public enum InputKind { Text = 1, EncodedImage = 2, Pixels = 3 }

/// <summary>
/// A validated input, independent of the API it came through: text, an encoded image file (decoded by the
/// server), or raw pixel values already checked for count and range.
/// </summary>
public sealed record InputPayload
{
    InputPayload(InputKind kind) => Kind = kind;

    public InputKind Kind { get; }
    public string? Text { get; private init; }
    public byte[]? ImageBytes { get; private init; }
    public int Width { get; private init; }
    public int Height { get; private init; }
    public double[]? PixelValues { get; private init; }

    public InputModality Modality => Kind == InputKind.Text ? InputModality.Text : InputModality.Image;

    public static InputPayload FromText(string text) => new(InputKind.Text) { Text = text };
    public static InputPayload FromImage(byte[] bytes) => new(InputKind.EncodedImage) { ImageBytes = bytes };
    public static InputPayload FromPixels(int width, int height, double[] values) =>
        new(InputKind.Pixels) { Width = width, Height = height, PixelValues = values };
}
