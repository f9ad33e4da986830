using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

// Marks selected symbol-version needs of ELF64 shared libraries as weak (VER_FLG_WEAK), so the
// dynamic loader accepts a host library that lacks that version. libLibTorchSharp.so from NuGet
// asks for GLIBCXX_3.4.32 (GCC 13) for a symbol no relocation uses; Debian 12 stops at 3.4.30.
public class WeakenElfVersionNeeds : Task
{
    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlgWeak = 0x2;

    [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();
    [Required] public string[] Versions { get; set; } = Array.Empty<string>();

    public override bool Execute()
    {
        var wanted = new HashSet<string>(Versions, StringComparer.Ordinal);
        foreach (var item in Files)
        {
            var path = item.GetMetadata("FullPath");
            try
            {
                var bytes = File.ReadAllBytes(path);
                var weakened = Weaken(bytes, wanted);
                if (weakened.Count == 0) continue;
                // Write beside and rename: never modify a file that may be hard-linked to the package cache.
                var tmp = path + ".weak.tmp";
                File.WriteAllBytes(tmp, bytes);
                File.Delete(path);
                File.Move(tmp, path);
                Log.LogMessage(MessageImportance.Low, $"{path}: weakened version need {string.Join(", ", weakened)}");
            }
            catch (Exception e) when (e is IOException || e is InvalidDataException || e is UnauthorizedAccessException)
            {
                Log.LogError($"Cannot weaken ELF version needs of {path}: {e.Message}");
            }
        }
        return !Log.HasLoggedErrors;
    }

    static List<string> Weaken(byte[] elf, HashSet<string> wanted)
    {
        var done = new List<string>();
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1) throw new InvalidDataException("only little-endian ELF64 is supported");

        long shoff = (long)BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        for (int s = 0; s < shnum; s++)
        {
            long sh = shoff + (long)s * shentsize;
            if (BitConverter.ToUInt32(elf, (int)sh + 4) != ShtGnuVerneed) continue;
            long offset = (long)BitConverter.ToUInt64(elf, (int)sh + 24);
            int link = (int)BitConverter.ToUInt32(elf, (int)sh + 40);
            int count = (int)BitConverter.ToUInt32(elf, (int)sh + 44);
            long strtab = (long)BitConverter.ToUInt64(elf, (int)(shoff + (long)link * shentsize) + 24);

            long vn = offset;
            for (int i = 0; i < count; i++)
            {
                int auxCount = BitConverter.ToUInt16(elf, (int)vn + 2);
                long aux = vn + BitConverter.ToUInt32(elf, (int)vn + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    var name = ReadCString(elf, strtab + BitConverter.ToUInt32(elf, (int)aux + 8));
                    ushort flags = BitConverter.ToUInt16(elf, (int)aux + 4);
                    if (wanted.Contains(name) && (flags & VerFlgWeak) == 0)
                    {
                        BitConverter.GetBytes((ushort)(flags | VerFlgWeak)).CopyTo(elf, (int)aux + 4);
                        done.Add(name);
                    }
                    aux += BitConverter.ToUInt32(elf, (int)aux + 12);
                }
                vn += BitConverter.ToUInt32(elf, (int)vn + 12);
            }
        }
        return done;
    }

    static string ReadCString(byte[] b, long at)
    {
        int end = (int)at;
        while (b[end] != 0) end++;
        return Encoding.ASCII.GetString(b, (int)at, end - (int)at);
    }
}
