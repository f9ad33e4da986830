using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace LoKO.Engine.Checkpoints;

/// <summary>
/// The safetensors format: an 8-byte little-endian header length, a JSON header
/// {name: {dtype, shape, data_offsets}, "__metadata__": {string: string}}, then the raw little-endian bytes.
/// Readable by the Python `safetensors` package and by PyTorch tooling.
/// </summary>
public static class SafetensorsCodec
{
    public static void Write(Stream stream, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
            header["__metadata__"] = new JsonObject(metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        // Each tensor's bytes go from its (CPU, contiguous) storage straight into the stream: no managed copy of each.
        var blobs = new List<Tensor>();
        try
        {
            long offset = 0;
            foreach (var (name, t) in tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                var cpu = t.detach().cpu().contiguous();
                blobs.Add(cpu);
                long length = cpu.numel() == 0 ? 0 : cpu.bytes.Length;
                header[name] = new JsonObject
                {
                    ["dtype"] = DtypeName(t.dtype),
                    ["shape"] = new JsonArray([.. t.shape.Select(d => (JsonNode?)d)]),
                    ["data_offsets"] = new JsonArray(offset, offset + length),
                };
                offset += length;
            }
            WriteHeader(stream, header);
            foreach (var b in blobs)
                if (b.numel() > 0) stream.Write(b.bytes);
        }
        finally
        {
            foreach (var b in blobs) b.Dispose();
        }
    }

    static void WriteHeader(Stream stream, JsonObject header)
    {
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8; // the format pads the header with spaces to 8-byte alignment
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)padded);
        stream.Write(length);
        stream.Write(json);
        for (int i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
    }

    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Read(Stream stream)
    {
        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > 100_000_000) throw new InvalidDataException("not a safetensors file: header length is implausible");
        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        JsonObject header = JsonNode.Parse(headerBytes)?.AsObject() ?? throw new InvalidDataException("safetensors header is not a JSON object");
        // A checkpoint read whole into memory is parsed where it lies; any other stream is copied once.
        using var rest = stream is MemoryStream m && m.TryGetBuffer(out _) ? null : new MemoryStream();
        ArraySegment<byte> data;
        if (rest is null)
        {
            var memory = (MemoryStream)stream;
            memory.TryGetBuffer(out var buffer);
            data = buffer[(int)memory.Position..];
            memory.Position = memory.Length;
        }
        else
        {
            stream.CopyTo(rest);
            data = new ArraySegment<byte>(rest.GetBuffer(), 0, (int)rest.Length);
        }

        var metadata = new Dictionary<string, string>();
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                foreach (var (k, v) in node!.AsObject()) metadata[k] = v!.GetValue<string>();
                continue;
            }
            var entry = node!.AsObject();
            var dtype = DtypeOf(entry["dtype"]!.GetValue<string>());
            long[] shape = [.. entry["shape"]!.AsArray().Select(d => d!.GetValue<long>())];
            var offsets = entry["data_offsets"]!.AsArray();
            long begin = offsets[0]!.GetValue<long>(), end = offsets[1]!.GetValue<long>();
            if (begin < 0 || end > data.Count || end < begin) throw new InvalidDataException($"tensor '{name}': data offsets out of range");
            var t = empty(shape, dtype);
            if (end > begin) t.bytes = data.AsSpan((int)begin, (int)(end - begin));
            tensors[name] = t;
        }
        return (tensors, metadata);
    }

    static string DtypeName(ScalarType t) => t switch
    {
        ScalarType.Float32 => "F32",
        ScalarType.Float64 => "F64",
        ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Int64 => "I64",
        ScalarType.Int32 => "I32",
        ScalarType.Int16 => "I16",
        ScalarType.Int8 => "I8",
        ScalarType.Byte => "U8",
        ScalarType.Bool => "BOOL",
        _ => throw new NotSupportedException($"safetensors cannot hold {t}"),
    };

    static ScalarType DtypeOf(string name) => name switch
    {
        "F32" => ScalarType.Float32,
        "F64" => ScalarType.Float64,
        "F16" => ScalarType.Float16,
        "BF16" => ScalarType.BFloat16,
        "I64" => ScalarType.Int64,
        "I32" => ScalarType.Int32,
        "I16" => ScalarType.Int16,
        "I8" => ScalarType.Int8,
        "U8" => ScalarType.Byte,
        "BOOL" => ScalarType.Bool,
        _ => throw new InvalidDataException($"unsupported safetensors dtype '{name}'"),
    };
}
