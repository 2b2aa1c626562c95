using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;
using Leakage.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Released;

/// <summary>
/// Reads tensors from files written by PyTorch's <c>torch.save</c>, in both the legacy format
/// (torch &lt; 1.6, e.g. the 2019 releases of Ilyas et al.) and the zip format (torch ≥ 1.6), without
/// Python. Only plain data is read: tensors (float32/64, float16, bfloat16, int8/16/32/64, uint8,
/// bool; any strides and storage offsets) and the Python containers around them, like
/// <c>torch.load(weights_only=True)</c>: nothing in the file is executed, and any other Python
/// object is reported as unsupported.
/// </summary>
public static class TorchSaveFile
{
    /// <summary>The legacy format's first pickle, <c>0x1950a86a20f9469cfc6c</c>.</summary>
    internal static readonly BigInteger LegacyMagic = BigInteger.Parse("1950a86a20f9469cfc6c", System.Globalization.NumberStyles.HexNumber);
    internal const long LegacyProtocolVersion = 1001;

    /// <summary>Which <c>torch.save</c> format a file is in, from its first bytes.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Not a file torch.save writes; the message names it.</exception>
    public static TorchSaveFormat DetectFormat(string path)
    {
        using var stream = Open(path);
        return Detect(stream, path);
    }

    /// <summary>
    /// Loads a file holding a list or tuple of tensors (or a single tensor, returned as a list of
    /// one), as <c>torch.load(path)</c> would, on the CPU. Views keep their strides: the tensors
    /// share the file's storages exactly as they did when saved. The caller owns (disposes) them.
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">
    /// The file is truncated, is not a torch.save file, or holds something other than tensors; the
    /// message names the file and what is wrong.
    /// </exception>
    public static Tensor[] ReadTensors(string path)
    {
        var value = Read(path, out var tensors);
        var items = value switch
        {
            TensorRecord single => [single],
            List<object?> list => list,
            object?[] tuple => tuple.ToList(),
            _ => null,
        };
        if (items is null)
        {
            Dispose(tensors);
            throw new InvalidDataException($"{path}: holds a {TorchUnpickler.Describe(value)}, not a tensor or a list of tensors.");
        }
        var bad = items.FindIndex(i => i is not TensorRecord);
        if (bad >= 0)
        {
            Dispose(tensors);
            throw new InvalidDataException($"{path}: item {bad} of the list is a {TorchUnpickler.Describe(items[bad])}, not a tensor.");
        }
        // A tensor pickled twice (same object) comes back as two handles to the same data.
        var handed = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        return items.Select(i => Hand(tensors[(TensorRecord)i!], handed)).ToArray();
    }

    /// <summary>Unpickles the file, reads its storages and materialises every tensor it references.</summary>
    private static object? Read(string path, out Dictionary<TensorRecord, Tensor> tensors)
    {
        TorchNative.Ensure();
        using var stream = Open(path);
        var format = Detect(stream, path);
        var storages = new Dictionary<string, StorageRecord>(StringComparer.Ordinal);
        var records = new List<TensorRecord>();
        try
        {
            object? value;
            try
            {
                value = format == TorchSaveFormat.Zip
                    ? ReadZip(stream, path, storages, records)
                    : ReadLegacy(stream, path, storages, records);
            }
            catch (EndOfStreamException e)
            {
                throw new InvalidDataException($"{path}: truncated: the file ends at byte {SafeLength(stream)} in the middle of the {format} torch.save data.", e);
            }
            tensors = new Dictionary<TensorRecord, Tensor>(ReferenceEqualityComparer.Instance);
            try
            {
                foreach (var r in records) tensors[r] = r.Materialize();
            }
            catch
            {
                Dispose(tensors);
                throw;
            }
            return value;
        }
        finally
        {
            // The tensors keep their storages alive; the 1-D handles are no longer needed.
            foreach (var s in storages.Values) s.Data?.Dispose();
        }
    }

    internal static FileStream Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found.", path);
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
    }

    internal static TorchSaveFormat Detect(Stream stream, string path)
    {
        Span<byte> head = stackalloc byte[4];
        int n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        stream.Position = 0;
        if (n >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) return TorchSaveFormat.Zip;
        if (n >= 2 && head[0] == 0x80 && head[1] is >= 2 and <= 5) return TorchSaveFormat.Legacy; // PROTO 2..5: a pickle
        if (n < 4)
            throw new InvalidDataException($"{path}: not a torch.save file: it is only {n} bytes long (truncated or empty).");
        throw new InvalidDataException(
            $"{path}: not a torch.save file: it starts with bytes {Convert.ToHexString(head[..n])}, which is neither "
            + "a zip archive (torch ≥ 1.6) nor a legacy pickle starting with the torch magic number (torch < 1.6).");
    }

    private static object? ReadLegacy(Stream stream, string path, Dictionary<string, StorageRecord> storages, List<TensorRecord> records)
    {
        var header = new TorchUnpickler(stream, path, _ => throw new InvalidDataException($"{path}: persistent id in the legacy header."));
        if (header.Load() is not BigInteger magic || magic != LegacyMagic)
            throw new InvalidDataException($"{path}: not a torch.save file: its first pickle is not the torch magic number.");
        if (header.Load() is not long version || version != LegacyProtocolVersion)
            throw new InvalidDataException($"{path}: legacy torch.save protocol version is not {LegacyProtocolVersion}.");
        // sys_info: {protocol_version, little_endian, type_sizes}. Informational: torch's legacy writer
        // stores storage bytes little-endian on every machine, and element counts too since about
        // torch 1.5 (earlier big-endian machines wrote counts in native order; see below).
        if (header.Load() is not Dictionary<object, object?> sysInfo)
            throw new InvalidDataException($"{path}: legacy torch.save sys info is not a dict.");
        bool writtenBigEndian = sysInfo.TryGetValue("little_endian", out var little) && little is false;

        var value = new TorchUnpickler(stream, path, pid => LoadStorage(pid, path, storages, legacy: true)).Load();
        CollectTensors(value, records);

        var keys = new TorchUnpickler(stream, path, _ => throw new InvalidDataException($"{path}: persistent id in the storage key list.")).Load();
        if (keys is not List<object?> keyList || keyList.Any(k => k is not string))
            throw new InvalidDataException($"{path}: the legacy storage key list is not a list of strings.");

        Span<byte> count = stackalloc byte[8];
        var read = new HashSet<string>(StringComparer.Ordinal);
        foreach (string key in keyList.Cast<string>())
        {
            if (!storages.TryGetValue(key, out var storage))
                throw new InvalidDataException($"{path}: storage {key} is listed but no tensor uses it.");
            if (!read.Add(key)) throw new InvalidDataException($"{path}: storage {key} is listed twice.");
            stream.ReadExactly(count);
            long numel = BinaryPrimitives.ReadInt64LittleEndian(count);
            if (numel != storage.Numel)
                throw new InvalidDataException($"{path}: storage {key} holds {numel} elements where the pickle declares {storage.Numel}"
                    + (writtenBigEndian && BinaryPrimitives.ReadInt64BigEndian(count) == storage.Numel
                        ? " (the file was written on a big-endian machine by an old torch that stored counts big-endian; re-save it with torch >= 1.6)."
                        : "."));
            if (storage.ByteCount > stream.Length - stream.Position) throw new EndOfStreamException();
            storage.Data = ReadStorage(stream, storage, bigEndian: false);
        }
        var missing = storages.Keys.FirstOrDefault(k => !read.Contains(k));
        if (missing is not null) throw new InvalidDataException($"{path}: storage {missing} is used by a tensor but not stored in the file.");
        if (stream.Position != stream.Length)
            throw new InvalidDataException($"{path}: {stream.Length - stream.Position} unexpected bytes after the last storage.");
        return value;
    }

    private static object? ReadZip(Stream stream, string path, Dictionary<string, StorageRecord> storages, List<TensorRecord> records)
    {
        ZipArchive zip;
        try
        {
            zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: damaged or truncated zip archive ({e.Message})", e);
        }
        using (zip)
        {
            var pickles = zip.Entries.Where(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal)
                                                 && e.FullName.IndexOf('/') == e.FullName.Length - "/data.pkl".Length).ToList();
            if (pickles.Count != 1)
                throw new InvalidDataException($"{path}: a zip archive, but not one written by torch.save "
                    + $"(expected exactly one <name>/data.pkl entry, found {pickles.Count}).");
            var prefix = pickles[0].FullName[..^"data.pkl".Length];

            bool bigEndian = false;
            if (zip.GetEntry(prefix + "byteorder") is { } order)
            {
                var text = Encoding.ASCII.GetString(ReadEntry(order, path)).Trim();
                bigEndian = text switch
                {
                    "little" => false,
                    "big" => true,
                    _ => throw new InvalidDataException($"{path}: byteorder record says '{text}', expected 'little' or 'big'."),
                };
            }

            object? value;
            using (var pkl = new MemoryStream(ReadEntry(pickles[0], path), writable: false))
                value = new TorchUnpickler(pkl, path, pid => LoadStorage(pid, path, storages, legacy: false)).Load();
            CollectTensors(value, records);

            foreach (var storage in storages.Values)
            {
                var entry = zip.GetEntry(prefix + "data/" + storage.Key)
                    ?? throw new InvalidDataException($"{path}: storage entry {prefix}data/{storage.Key} is missing.");
                if (entry.Length != storage.ByteCount)
                    throw new InvalidDataException($"{path}: storage {storage.Key} holds {entry.Length} bytes where the pickle declares "
                        + $"{storage.Numel} elements of {storage.ElementSize} bytes.");
                using var data = OpenEntry(entry, path);
                storage.Data = ReadStorage(data, storage, bigEndian);
            }
            return value;
        }
    }

    /// <summary>
    /// Resolves a storage persistent id: <c>('storage', storage_type, key, location, numel)</c>,
    /// plus <c>view_metadata</c> (None or <c>(view_key, offset, size)</c>) in the legacy format.
    /// The location (cpu, cuda:0) is ignored: everything is read to the CPU.
    /// </summary>
    internal static StorageSlice LoadStorage(object?[] pid, string path, Dictionary<string, StorageRecord> storages, bool legacy)
    {
        if (pid.Length == 0 || pid[0] is not string kind)
            throw new InvalidDataException($"{path}: malformed persistent id.");
        if (kind != "storage")
            throw new InvalidDataException($"{path}: persistent id of kind '{kind}' (a whole pickled nn.Module?); only tensors are supported.");
        if (pid.Length < 5 || pid[1] is not PyGlobal type || pid[2] is not string key || pid[4] is not long numel || numel < 0)
            throw new InvalidDataException($"{path}: malformed storage persistent id.");
        var (dtype, size) = StorageRecord.Lookup(type)
            ?? throw new InvalidDataException($"{path}: storage type {type} is not supported.");
        if (numel > long.MaxValue / size)
            throw new InvalidDataException($"{path}: storage {key} declares {numel} elements, more bytes than any file holds.");
        if (!storages.TryGetValue(key, out var root))
            storages[key] = root = new StorageRecord(key, dtype, size, numel);
        else if (root.DType != dtype || root.Numel != numel)
            throw new InvalidDataException($"{path}: storage {key} is declared twice with different types or sizes.");

        if (legacy && pid.Length > 5 && pid[5] is object?[] view)
        {
            if (view.Length != 3 || view[1] is not long offset || view[2] is not long count
                || offset < 0 || count < 0 || offset + count > root.Numel)
                throw new InvalidDataException($"{path}: malformed storage view of storage {key}.");
            return new StorageSlice(root, offset, count);
        }
        return new StorageSlice(root, 0, root.Numel);
    }

    /// <summary>Every tensor in the unpickled value, in first-seen order.</summary>
    private static void CollectTensors(object? value, List<TensorRecord> records)
    {
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        void Visit(object? o)
        {
            if (o is null || o is string || !seen.Add(o)) return;
            switch (o)
            {
                case TensorRecord t: records.Add(t); break;
                case List<object?> list: foreach (var i in list) Visit(i); break;
                case object?[] tuple: foreach (var i in tuple) Visit(i); break;
                case Dictionary<object, object?> dict: foreach (var v in dict.Values) Visit(v); break;
            }
        }
        Visit(value);
    }

    /// <summary>
    /// Reads a storage's bytes into a new 1-D CPU tensor, in slices through a pooled buffer so that
    /// storages larger than 2 GiB work, converting to the machine's byte order where needed.
    /// </summary>
    internal static Tensor ReadStorage(Stream source, StorageRecord storage, bool bigEndian)
    {
        var tensor = torch.empty(storage.Numel, storage.DType);
        bool swap = storage.ElementSize > 1 && bigEndian == BitConverter.IsLittleEndian;
        int sliceElements = (4 << 20) / storage.ElementSize;
        var buffer = ArrayPool<byte>.Shared.Rent(sliceElements * storage.ElementSize);
        try
        {
            for (long start = 0; start < storage.Numel; start += sliceElements)
            {
                long count = Math.Min(sliceElements, storage.Numel - start);
                var bytes = buffer.AsSpan(0, (int)(count * storage.ElementSize));
                source.ReadExactly(bytes);
                if (swap) ReverseEndianness(bytes, storage.ElementSize);
                using var slice = tensor.narrow(0, start, count);
                slice.bytes = bytes;
            }
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return tensor;
    }

    private static void ReverseEndianness(Span<byte> bytes, int elementSize)
    {
        switch (elementSize)
        {
            case 2: var u16 = MemoryMarshal.Cast<byte, ushort>(bytes); BinaryPrimitives.ReverseEndianness(u16, u16); break;
            case 4: var u32 = MemoryMarshal.Cast<byte, uint>(bytes); BinaryPrimitives.ReverseEndianness(u32, u32); break;
            case 8: var u64 = MemoryMarshal.Cast<byte, ulong>(bytes); BinaryPrimitives.ReverseEndianness(u64, u64); break;
            default: throw new ArgumentOutOfRangeException(nameof(elementSize), elementSize, "element size must be 1, 2, 4 or 8 bytes");
        }
    }

    internal static Stream OpenEntry(ZipArchiveEntry entry, string path)
    {
        try
        {
            return entry.Open();
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: damaged zip entry {entry.FullName} ({e.Message})", e);
        }
    }

    internal static byte[] ReadEntry(ZipArchiveEntry entry, string path)
    {
        if (entry.Length > Array.MaxLength) throw new InvalidDataException($"{path}: zip entry {entry.FullName} is implausibly large.");
        using var s = OpenEntry(entry, path);
        var bytes = new byte[entry.Length];
        s.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>The tensor itself the first time, an alias after: every returned handle is the caller's to dispose.</summary>
    private static Tensor Hand(Tensor t, HashSet<Tensor> handed) => handed.Add(t) ? t : t.alias();

    internal static long SafeLength(Stream s) => s.CanSeek ? s.Length : -1;

    private static void Dispose(Dictionary<TensorRecord, Tensor> tensors)
    {
        foreach (var t in tensors.Values) t.Dispose();
    }
}
