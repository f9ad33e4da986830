using System.IO.Compression;
using System.Text;
using LoKO.Engine.Checkpoints;
using static TorchSharp.torch;

namespace LoKO.Engine.Peft;

/// <summary>A PEFT adapter folder as one zip: adapter_config.json and adapter_model.safetensors, nothing else needed.</summary>
public static class PeftArchive
{
    public const string WeightsFileName = "adapter_model.safetensors";

    /// <summary>PEFT's save_pretrained writes this metadata; transformers' loaders look for it.</summary>
    static readonly Dictionary<string, string> Metadata = new() { ["format"] = "pt" };

    /// <summary>
    /// A small zip may claim to inflate to gigabytes: no entry may be larger than this, which is above any adapter a
    /// tenant can have (every minilm-l6 site at r = 256 is about 45 MB).
    /// </summary>
    const long MaxEntryBytes = 256L << 20;

    public static byte[] Write(PeftConfig config, IReadOnlyDictionary<string, Tensor> tensors)
    {
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            using (var writer = new StreamWriter(zip.CreateEntry(PeftConfig.FileName).Open(), new UTF8Encoding(false)))
                writer.Write(config.ToJson());
            using var weights = zip.CreateEntry(WeightsFileName).Open();
            SafetensorsCodec.Write(weights, tensors, Metadata);
        }
        return buffer.ToArray();
    }

    /// <summary>Reads both files; the entries may sit in one folder of the zip (a zipped save_pretrained folder).</summary>
    public static (PeftConfig Config, Dictionary<string, Tensor> Tensors) Read(byte[] zipBytes)
    {
        ZipArchive zip;
        try { zip = new ZipArchive(new MemoryStream(zipBytes, writable: false), ZipArchiveMode.Read); }
        catch (InvalidDataException e) { throw new PeftFormatException("adapter", $"is not a zip archive: {e.Message}"); }
        using (zip)
        {
            var configText = Encoding.UTF8.GetString(ReadEntry(zip, PeftConfig.FileName));
            var config = PeftConfig.Parse(configText);
            var weights = ReadEntry(zip, WeightsFileName);
            try { return (config, SafetensorsCodec.Read(new MemoryStream(weights)).Tensors); }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                throw new PeftFormatException($"adapter.{WeightsFileName}", $"is not a readable safetensors file: {e.Message}");
            }
        }
    }

    static byte[] ReadEntry(ZipArchive zip, string name)
    {
        List<ZipArchiveEntry> matches;
        // The central directory is read on first use: a zip whose directory contradicts its end record fails here.
        try { matches = zip.Entries.Where(e => e.Name == name).ToList(); }
        catch (InvalidDataException e) { throw new PeftFormatException("adapter", $"is not a readable zip archive: {e.Message}"); }
        if (matches.Count != 1)
            throw new PeftFormatException($"adapter.{name}", matches.Count == 0 ? "is missing from the zip" : "appears more than once in the zip");
        var entry = matches[0];
        if (entry.Length > MaxEntryBytes) throw new PeftFormatException($"adapter.{name}", $"is larger than {MaxEntryBytes} bytes");
        try
        {
            using var stream = entry.Open();
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return copy.ToArray();
        }
        catch (InvalidDataException e) { throw new PeftFormatException($"adapter.{name}", $"cannot be unpacked: {e.Message}"); }
    }
}
