namespace LoKO.Engine.Platform;

/// <summary>
/// A device or LibTorch setting the process cannot run with; <see cref="Key"/> names it ("Device" or
/// "LibTorchDirectory"), the message says what is missing, on one line.
/// </summary>
public sealed class DeviceSettingException(string key, string message, Exception? inner = null) : Exception(message, inner)
{
    public const string DeviceKey = "Device";
    public const string LibTorchDirectoryKey = "LibTorchDirectory";

    public string Key { get; } = key;
}
