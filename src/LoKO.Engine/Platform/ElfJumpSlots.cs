using System.Buffers.Binary;
using System.Text;

namespace LoKO.Engine.Platform;

/// <summary>
/// Where an x86-64 ELF shared library keeps the procedure-linkage-table entry of one function it imports or
/// exports: the offset from its load address, whether that page stays writable after loading (outside GNU_RELRO,
/// in a writable segment), and how many bytes its segments span. Read from the file's section and program headers
/// (ELF-64 Object File Format 1.5 and the x86-64 psABI); only the headers and the dynamic symbol and relocation
/// tables are read, never the whole file.
/// </summary>
internal sealed record ElfJumpSlots(ulong? SlotOffset, bool SlotWritable, ulong MappedBytes)
{
    const uint ShtRela = 4, ShtDynSym = 11, PtLoad = 1, PtGnuRelro = 0x6474e552, PfWrite = 2;
    const uint RX8664JumpSlot = 7;
    const int SymbolBytes = 24, RelaBytes = 24;

    /// <summary>The entry of <paramref name="symbol"/> in the library at <paramref name="path"/>; SlotOffset null where it has none.</summary>
    public static ElfJumpSlots Read(string path, string symbol)
    {
        using var file = File.OpenHandle(path);
        var header = Bytes(file, 0, 64);
        if (!header.AsSpan(0, 4).SequenceEqual("\u007fELF"u8) || header[4] != 2 || header[5] != 1 || U16(header, 18) != 62)
            throw new InvalidDataException($"'{path}' is not a little-endian x86-64 ELF64 file");

        var segments = Headers(file, U64(header, 32), U16(header, 54), U16(header, 56))
            .Select(p => (Type: U32(p, 0), Flags: U32(p, 4), Address: U64(p, 16), Size: U64(p, 40))).ToArray();
        var sections = Headers(file, U64(header, 40), U16(header, 58), U16(header, 60))
            .Select(s => (Type: U32(s, 4), Offset: U64(s, 24), Size: U64(s, 32), Link: U32(s, 40))).ToArray();
        ulong mapped = segments.Where(p => p.Type == PtLoad).Select(p => p.Address + p.Size).DefaultIfEmpty(0UL).Max();

        int dynsym = Array.FindIndex(sections, s => s.Type == ShtDynSym);
        if (dynsym < 0) return new(null, false, mapped);
        var symbols = Bytes(file, sections[dynsym].Offset, sections[dynsym].Size);
        var strings = Bytes(file, sections[(int)sections[dynsym].Link].Offset, sections[(int)sections[dynsym].Link].Size);
        var wanted = Encoding.ASCII.GetBytes(symbol + "\0");
        long index = -1;
        for (int i = 0; i < symbols.Length / SymbolBytes && index < 0; i++)
        {
            int name = (int)U32(symbols, i * SymbolBytes);
            if (name + wanted.Length <= strings.Length && strings.AsSpan(name, wanted.Length).SequenceEqual(wanted)) index = i;
        }
        if (index < 0) return new(null, false, mapped);

        foreach (var rela in sections.Where(s => s.Type == ShtRela && s.Link == dynsym))
        {
            var entries = Bytes(file, rela.Offset, rela.Size);
            for (int i = 0; i < entries.Length / RelaBytes; i++)
            {
                ulong info = U64(entries, i * RelaBytes + 8);
                if ((uint)info != RX8664JumpSlot || (long)(info >> 32) != index) continue;
                ulong offset = U64(entries, i * RelaBytes);
                bool writable = segments.Any(p => p.Type == PtLoad && (p.Flags & PfWrite) != 0 && Within(offset, p.Address, p.Size))
                                && !segments.Any(p => p.Type == PtGnuRelro && Within(offset, p.Address, p.Size));
                return new(offset, writable, mapped);
            }
        }
        return new(null, false, mapped);
    }

    static bool Within(ulong at, ulong start, ulong size) => at >= start && at + 8 <= start + size;

    static IEnumerable<byte[]> Headers(Microsoft.Win32.SafeHandles.SafeFileHandle file, ulong offset, int size, int count)
    {
        var all = Bytes(file, offset, (ulong)(size * count));
        for (int i = 0; i < count; i++) yield return all[(i * size)..((i + 1) * size)];
    }

    static byte[] Bytes(Microsoft.Win32.SafeHandles.SafeFileHandle file, ulong offset, ulong size)
    {
        var buffer = new byte[checked((int)size)];
        int read = 0;
        while (read < buffer.Length)
        {
            int n = RandomAccess.Read(file, buffer.AsSpan(read), (long)offset + read);
            if (n == 0) throw new InvalidDataException("the ELF file ends inside one of its tables");
            read += n;
        }
        return buffer;
    }

    static ushort U16(byte[] b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(at));
    static uint U32(byte[] b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at));
    static ulong U64(byte[] b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(at));
}
