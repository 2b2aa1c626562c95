using System.Buffers.Binary;
using System.Text;

namespace Leakage.Native;

/// <summary>
/// Reads and edits the version-needs table (<c>.gnu.version_r</c>) of a 64-bit little-endian ELF
/// shared object. Marking a needed version weak (<c>VER_FLG_WEAK</c>) makes the dynamic loader
/// accept the object even when the named library lacks that version; symbols bound to the
/// version must then come from elsewhere (here: our shim, loaded globally beforehand).
/// </summary>
public static class ElfVersionNeeds
{
    const uint ShtGnuVerneed = 0x6ffffffe;
    /// <summary>The <c>VER_FLG_WEAK</c> bit of <c>vna_flags</c>.</summary>
    public const ushort VerFlagWeak = 0x2;

    /// <summary>One auxiliary entry of the table: a version needed from a file.</summary>
    public sealed record Entry(string File, string Version, ushort Flags, long FlagsOffset)
    {
        public bool IsWeak => (Flags & VerFlagWeak) != 0;
    }

    /// <summary>Lists every needed version in the file's <c>.gnu.version_r</c> section.</summary>
    public static IReadOnlyList<Entry> Read(ReadOnlySpan<byte> elf, string fileNameForErrors)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException($"{fileNameForErrors}: not an ELF file.");
        if (elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException($"{fileNameForErrors}: only 64-bit little-endian ELF files are supported.");

        ulong shoff = U64(elf, 0x28);
        ushort shentsize = U16(elf, 0x3A), shnum = U16(elf, 0x3C);
        if (shoff == 0 || shentsize < 64 || (ulong)elf.Length < shoff + (ulong)shentsize * shnum)
            throw new InvalidDataException($"{fileNameForErrors}: truncated or missing section header table.");

        var entries = new List<Entry>();
        for (int i = 0; i < shnum; i++)
        {
            int sh = checked((int)shoff + i * shentsize);
            if (U32(elf, sh + 4) != ShtGnuVerneed) continue;
            long off = (long)U64(elf, sh + 0x18);
            uint link = U32(elf, sh + 0x28);
            uint count = U32(elf, sh + 0x2C); // sh_info: number of Verneed entries
            int strSh = checked((int)shoff + (int)link * shentsize);
            long strOff = (long)U64(elf, strSh + 0x18), strSize = (long)U64(elf, strSh + 0x20);

            long vn = off;
            for (uint n = 0; n < count; n++)
            {
                ushort cnt = U16(elf, (int)vn + 2);
                string file = Str(elf, strOff, strSize, U32(elf, (int)vn + 4), fileNameForErrors);
                long aux = vn + U32(elf, (int)vn + 8);
                for (int a = 0; a < cnt; a++)
                {
                    ushort flags = U16(elf, (int)aux + 4);
                    string name = Str(elf, strOff, strSize, U32(elf, (int)aux + 8), fileNameForErrors);
                    entries.Add(new Entry(file, name, flags, aux + 4));
                    uint next = U32(elf, (int)aux + 12);
                    if (next == 0) break;
                    aux += next;
                }
                uint vnNext = U32(elf, (int)vn + 12);
                if (vnNext == 0) break;
                vn += vnNext;
            }
        }
        return entries;
    }

    /// <summary>
    /// Sets <c>VER_FLG_WEAK</c> on every needed <paramref name="version"/> in <paramref name="elf"/>.
    /// Returns how many entries changed (0 when already weak or absent).
    /// </summary>
    public static int MarkWeak(Span<byte> elf, string version, string fileNameForErrors)
    {
        int changed = 0;
        foreach (var e in Read(elf, fileNameForErrors))
        {
            if (e.Version != version || e.IsWeak) continue;
            BinaryPrimitives.WriteUInt16LittleEndian(elf[(int)e.FlagsOffset..], (ushort)(e.Flags | VerFlagWeak));
            changed++;
        }
        return changed;
    }

    static ushort U16(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt16LittleEndian(b[o..]);
    static uint U32(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt32LittleEndian(b[o..]);
    static ulong U64(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt64LittleEndian(b[o..]);

    static string Str(ReadOnlySpan<byte> b, long tableOff, long tableSize, uint index, string file)
    {
        if (index >= tableSize) throw new InvalidDataException($"{file}: string index {index} outside .dynstr.");
        var s = b[(int)(tableOff + index)..(int)(tableOff + tableSize)];
        int end = s.IndexOf((byte)0);
        return Encoding.ASCII.GetString(end < 0 ? s : s[..end]);
    }
}
