using System.Collections;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace LoKO.Server.Tests.Fuzzing;

/// <summary>
/// Breaks a valid protobuf message, guided by its descriptor (so new fields are fuzzed too): random values for random
/// fields (edge and non-finite numbers, nasty and huge strings, undefined enum values, huge repeated fields, messages
/// cleared or filled at random); then, sometimes, the encoded bytes themselves: truncated, bits flipped, invalid UTF-8
/// in a string field, an invalid wire type, a varint that never ends, a length past the end, nesting past the parser's
/// recursion limit, random bytes.
/// </summary>
public static class ProtoMutator
{
    public static byte[] Mutate(IMessage valid, Random rng, List<string> notes)
    {
        var message = valid.Copy();
        for (int i = rng.Next(1, 4); i > 0; i--) MutateField(message, rng, notes, depth: 0);
        var bytes = message.ToByteArray();
        return rng.Next(3) == 0 ? MutateBytes(bytes, message.Descriptor, rng, notes) : bytes;
    }

    static IMessage Copy(this IMessage message) => message.Descriptor.Parser.ParseFrom(message.ToByteArray());

    static void MutateField(IMessage message, Random rng, List<string> notes, int depth)
    {
        var fields = message.Descriptor.Fields.InDeclarationOrder();
        if (fields.Count == 0) return;
        var field = fields[rng.Next(fields.Count)];
        var name = $"{message.Descriptor.Name}.{field.Name}";
        if (field.IsMap)
        {
            var map = (IDictionary)field.Accessor.GetValue(message);
            map.Clear();
            notes.Add($"{name} cleared");
        }
        else if (field.IsRepeated)
        {
            var list = (IList)field.Accessor.GetValue(message);
            int count = rng.Next(3) switch { 0 => 0, 1 => rng.Next(1, 5), _ => rng.Next(1000, 40_000) };
            list.Clear();
            // Many values are small ones: a huge field, not a huge message.
            for (int i = 0; i < count; i++) list.Add(count > 100 ? Small(field, rng) : Value(field, rng, depth, notes: null));
            notes.Add($"{name} = {count} random values");
        }
        else if (field.FieldType == FieldType.Message && depth < 3 && field.Accessor.GetValue(message) is IMessage nested && rng.Next(2) == 0)
        {
            MutateField(nested, rng, notes, depth + 1);
        }
        else if (rng.Next(6) == 0)
        {
            field.Accessor.Clear(message);
            notes.Add($"{name} cleared");
        }
        else
        {
            var value = Value(field, rng, depth, notes);
            field.Accessor.SetValue(message, value);
            notes.Add($"{name} = {Show(value)}");
        }
    }

    static object Value(FieldDescriptor field, Random rng, int depth, List<string>? notes) => field.FieldType switch
    {
        FieldType.String => NastyValues.String(rng),
        FieldType.Bytes => ByteString.CopyFrom(Bytes(rng)),
        FieldType.Double => NastyValues.Double(rng),
        FieldType.Float => (float)NastyValues.Double(rng),
        FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => NastyValues.Long(rng),
        FieldType.UInt64 or FieldType.Fixed64 => unchecked((ulong)NastyValues.Long(rng)),
        FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => NastyValues.Int(rng),
        FieldType.UInt32 or FieldType.Fixed32 => unchecked((uint)NastyValues.Int(rng)),
        FieldType.Bool => rng.Next(2) == 0,
        FieldType.Enum => Enum.ToObject(field.EnumType.ClrType, rng.Next(-2, 6)),
        FieldType.Message => RandomMessage(field.MessageType, rng, depth + 1, notes),
        _ => throw new NotSupportedException($"field type {field.FieldType}"),
    };

    static object Small(FieldDescriptor field, Random rng) => field.FieldType switch
    {
        FieldType.String => "x",
        FieldType.Bytes => ByteString.CopyFrom((byte)rng.Next(256)),
        FieldType.Message => Activator.CreateInstance(field.MessageType.ClrType)!,
        _ => Value(field, rng, depth: 3, notes: null),
    };

    static IMessage RandomMessage(MessageDescriptor descriptor, Random rng, int depth, List<string>? notes)
    {
        var message = (IMessage)Activator.CreateInstance(descriptor.ClrType)!;
        if (depth < 3)
            for (int i = rng.Next(0, 4); i > 0; i--) MutateField(message, rng, notes ?? [], depth);
        return message;
    }

    static byte[] Bytes(Random rng)
    {
        var bytes = new byte[rng.Next(3) switch { 0 => 0, 1 => rng.Next(1, 64), _ => rng.Next(1000, 300_000) }];
        rng.NextBytes(bytes);
        return bytes;
    }

    static string Show(object value) => value switch
    {
        string s => $"string of {s.Length} chars {JsonMutator.Quote(s.Length > 30 ? s[..30] : s)}",
        ByteString b => $"{b.Length} bytes",
        IMessage m => $"{m.Descriptor.Name} of {m.CalculateSize()} bytes", // its JSON form fails on lone surrogates
        double d => d.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "null",
    };

    /// <summary>Corrupts encoded bytes (the server's parser sees exactly these).</summary>
    public static byte[] MutateBytes(byte[] bytes, MessageDescriptor descriptor, Random rng, List<string> notes)
    {
        int at = bytes.Length == 0 ? 0 : rng.Next(bytes.Length);
        var strings = descriptor.Fields.InDeclarationOrder().Where(f => f.FieldType == FieldType.String).ToList();
        switch (rng.Next(9))
        {
            case 0:
                notes.Add($"truncated to {at} of {bytes.Length} bytes");
                return bytes[..at];
            case 1:
                var flipped = (byte[])bytes.Clone();
                for (int i = rng.Next(1, 4); i > 0 && flipped.Length > 0; i--) flipped[rng.Next(flipped.Length)] ^= (byte)(1 << rng.Next(8));
                notes.Add("bits flipped");
                return flipped;
            case 2 when strings.Count > 0:
                // A later occurrence of a singular field wins: this string field now holds bytes that are not UTF-8.
                var field = strings[rng.Next(strings.Count)];
                var invalid = NastyValues.InvalidUtf8[rng.Next(NastyValues.InvalidUtf8.Length)];
                notes.Add($"{descriptor.Name}.{field.Name} = invalid UTF-8 {Convert.ToHexString(invalid)}");
                return [.. bytes, .. Tag(field.FieldNumber, 2), (byte)invalid.Length, .. invalid];
            case 3:
                notes.Add("field with invalid wire type 7");
                return [.. bytes, .. Tag(rng.Next(1, 20), 7)];
            case 4:
                notes.Add("varint that never ends");
                return [.. bytes, .. Tag(rng.Next(1, 20), 0), .. Enumerable.Repeat((byte)0xFF, 11)];
            case 5:
                notes.Add("length past the end");
                return [.. bytes, .. Tag(rng.Next(1, 20), 2), 0xFF, 0xFF, 0x03, 1, 2, 3];
            case 6:
                notes.Add("groups nested past the recursion limit");
                return [.. bytes, .. Enumerable.Repeat(Tag(15, 3)[0], 200)];
            case 7:
                notes.Add("empty message");
                return [];
            default:
                var garbage = new byte[rng.Next(1, 300)];
                rng.NextBytes(garbage);
                notes.Add($"{garbage.Length} random bytes");
                return garbage;
        }
    }

    static byte[] Tag(int fieldNumber, int wireType)
    {
        var tag = (uint)(fieldNumber << 3 | wireType);
        var bytes = new List<byte>();
        while (tag >= 0x80) { bytes.Add((byte)(tag | 0x80)); tag >>= 7; }
        bytes.Add((byte)tag);
        return [.. bytes];
    }
}
