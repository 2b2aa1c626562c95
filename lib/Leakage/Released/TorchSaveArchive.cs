using System.Buffers.Binary;
using System.IO.Compression;
using System.Numerics;
using Leakage.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Released;

/// <summary>Dtype and shape of one tensor of a <see cref="TorchSaveArchive"/>, known before its bytes are read.</summary>
public sealed record TorchTensorInfo(ScalarType DType, long[] Shape)
{
    /// <summary>The shape as PyTorch prints it, e.g. <c>[64, 3, 3, 3]</c>.</summary>
    public string ShapeText => $"[{string.Join(", ", Shape)}]";
}

/// <summary>
/// A <c>torch.save</c> file (legacy or zip) opened for reading tensors one at a time, such as a
/// checkpoint: a nested dict whose tensors are listed by path (<see cref="Tensors"/>) with their
/// dtype and shape, and read only when asked for (<see cref="Read"/>), so a caller that needs a
/// third of a checkpoint (the model, not the optimizer's momentum) never holds the rest in memory.
/// Like <see cref="TorchSaveFile"/> it runs nothing from the file: the pickle goes through the same
/// whitelisting reader, and every storage is checked against the file (present, of the declared size,
/// inside the file) when the file is opened, before anything is read.
/// </summary>
/// <remarks>
/// Paths join dict keys and list indices with <c>/</c>: <c>model/module.model.conv1.weight</c> for
/// <c>checkpoint['model']['module.model.conv1.weight']</c>; a file holding a single tensor has the
/// path <c>""</c>. Non-tensor leaves (numbers, strings, booleans, None) are in <see cref="Values"/>.
/// </remarks>
public sealed class TorchSaveArchive : IDisposable
{
    readonly FileStream _stream;
    readonly ZipArchive? _zip;
    readonly string _prefix = "";
    readonly bool _bigEndian;
    readonly Dictionary<string, long> _legacyOffsets = new(StringComparer.Ordinal);
    readonly Dictionary<string, TensorRecord> _records = new(StringComparer.Ordinal);

    /// <summary>The file, as given.</summary>
    public string Path { get; }

    /// <summary>Legacy or zip.</summary>
    public TorchSaveFormat Format { get; }

    /// <summary>Every tensor by path, in the order the pickle holds them.</summary>
    public IReadOnlyDictionary<string, TorchTensorInfo> Tensors { get; }

    /// <summary>Every other leaf by path: null, bool, long, double, string, bytes or a <see cref="BigInteger"/>.</summary>
    public IReadOnlyDictionary<string, object?> Values { get; }

    TorchSaveArchive(string path, FileStream stream, TorchSaveFormat format, ZipArchive? zip, string prefix, bool bigEndian, object? root,
        Dictionary<string, long> legacyOffsets)
    {
        Path = path;
        _stream = stream;
        Format = format;
        _zip = zip;
        _prefix = prefix;
        _bigEndian = bigEndian;
        _legacyOffsets = legacyOffsets;
        var tensors = new Dictionary<string, TorchTensorInfo>(StringComparer.Ordinal);
        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        Flatten(root, "", tensors, values, new HashSet<object>(ReferenceEqualityComparer.Instance), 0);
        Tensors = tensors;
        Values = values;
    }

    /// <summary>Opens <paramref name="path"/>: reads its pickle and checks its storages, reading none of their bytes.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Not a torch.save file, truncated, or holding something other than containers of tensors; the message names the file.</exception>
    public static TorchSaveArchive Open(string path)
    {
        TorchNative.Ensure();
        var stream = TorchSaveFile.Open(path);
        ZipArchive? zip = null;
        try
        {
            var format = TorchSaveFile.Detect(stream, path);
            var storages = new Dictionary<string, StorageRecord>(StringComparer.Ordinal);
            try
            {
                if (format == TorchSaveFormat.Zip)
                {
                    zip = OpenZip(stream, path);
                    var (root, prefix, bigEndian) = ScanZip(zip, path, storages);
                    return new TorchSaveArchive(path, stream, format, zip, prefix, bigEndian, root, []);
                }
                var offsets = new Dictionary<string, long>(StringComparer.Ordinal);
                var value = ScanLegacy(stream, path, storages, offsets);
                return new TorchSaveArchive(path, stream, format, null, "", false, value, offsets);
            }
            catch (EndOfStreamException e)
            {
                throw new InvalidDataException($"{path}: truncated: the file ends at byte {stream.Length} in the middle of the {format} torch.save data.", e);
            }
        }
        catch
        {
            zip?.Dispose();
            stream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The tensor at <paramref name="path"/>, read now from the file into a new CPU tensor (a view of
    /// its storage, with the saved strides). The caller owns (disposes) it.
    /// </summary>
    /// <exception cref="KeyNotFoundException">No tensor at that path.</exception>
    public Tensor Read(string path)
    {
        if (!_records.TryGetValue(path, out var record))
            throw new KeyNotFoundException($"{Path}: no tensor at '{path}'.");
        var storage = record.Storage.Root;
        if (_zip is not null)
        {
            var entry = _zip.GetEntry(_prefix + "data/" + storage.Key)!;
            using var data = TorchSaveFile.OpenEntry(entry, Path);
            storage.Data = TorchSaveFile.ReadStorage(data, storage, _bigEndian);
        }
        else
        {
            _stream.Position = _legacyOffsets[storage.Key];
            storage.Data = TorchSaveFile.ReadStorage(_stream, storage, bigEndian: false);
        }
        try
        {
            return record.Materialize();
        }
        finally
        {
            // The view keeps the storage alive; the archive keeps nothing.
            storage.Data.Dispose();
            storage.Data = null;
        }
    }

    void Flatten(object? o, string path, Dictionary<string, TorchTensorInfo> tensors, Dictionary<string, object?> values, HashSet<object> open, int depth)
    {
        if (depth > 64) throw new InvalidDataException($"{Path}: containers nested more than 64 deep at '{path}'.");
        string Child(object key) => path.Length == 0 ? Convert.ToString(key, System.Globalization.CultureInfo.InvariantCulture)! : $"{path}/{key}";
        switch (o)
        {
            case TensorRecord t:
                _records[path] = t;
                tensors[path] = new TorchTensorInfo(t.Storage.Root.DType, t.Shape);
                return;
            case Dictionary<object, object?> or List<object?> or object?[] when !open.Add(o):
                throw new InvalidDataException($"{Path}: the container at '{path}' contains itself.");
            case Dictionary<object, object?> dict:
                foreach (var (k, v) in dict) Flatten(v, Child(k), tensors, values, open, depth + 1);
                break;
            case List<object?> list:
                for (int i = 0; i < list.Count; i++) Flatten(list[i], Child(i), tensors, values, open, depth + 1);
                break;
            case object?[] tuple:
                for (int i = 0; i < tuple.Length; i++) Flatten(tuple[i], Child(i), tensors, values, open, depth + 1);
                break;
            default:
                values[path] = o;
                return;
        }
        open.Remove(o);
    }

    static ZipArchive OpenZip(Stream stream, string path)
    {
        try { return new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: damaged or truncated zip archive ({e.Message})", e); }
    }

    static (object? Root, string Prefix, bool BigEndian) ScanZip(ZipArchive zip, string path, Dictionary<string, StorageRecord> storages)
    {
        var pickles = zip.Entries.Where(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal)
                                             && e.FullName.IndexOf('/') == e.FullName.Length - "/data.pkl".Length).ToList();
        if (pickles.Count != 1)
            throw new InvalidDataException($"{path}: a zip archive, but not one written by torch.save (expected exactly one <name>/data.pkl entry, found {pickles.Count}).");
        var prefix = pickles[0].FullName[..^"data.pkl".Length];
        bool bigEndian = false;
        if (zip.GetEntry(prefix + "byteorder") is { } order)
        {
            var text = System.Text.Encoding.ASCII.GetString(TorchSaveFile.ReadEntry(order, path)).Trim();
            bigEndian = text switch
            {
                "little" => false,
                "big" => true,
                _ => throw new InvalidDataException($"{path}: byteorder record says '{text}', expected 'little' or 'big'."),
            };
        }
        object? root;
        using (var pkl = new MemoryStream(TorchSaveFile.ReadEntry(pickles[0], path), writable: false))
            root = new TorchUnpickler(pkl, path, pid => TorchSaveFile.LoadStorage(pid, path, storages, legacy: false)).Load();
        foreach (var storage in storages.Values)
        {
            var entry = zip.GetEntry(prefix + "data/" + storage.Key)
                ?? throw new InvalidDataException($"{path}: storage entry {prefix}data/{storage.Key} is missing.");
            if (entry.Length != storage.ByteCount)
                throw new InvalidDataException($"{path}: storage {storage.Key} holds {entry.Length} bytes where the pickle declares "
                    + $"{storage.Numel} elements of {storage.ElementSize} bytes.");
        }
        return (root, prefix, bigEndian);
    }

    static object? ScanLegacy(FileStream stream, string path, Dictionary<string, StorageRecord> storages, Dictionary<string, long> offsets)
    {
        var header = new TorchUnpickler(stream, path, _ => throw new InvalidDataException($"{path}: persistent id in the legacy header."));
        if (header.Load() is not BigInteger magic || magic != TorchSaveFile.LegacyMagic)
            throw new InvalidDataException($"{path}: not a torch.save file: its first pickle is not the torch magic number.");
        if (header.Load() is not long version || version != TorchSaveFile.LegacyProtocolVersion)
            throw new InvalidDataException($"{path}: legacy torch.save protocol version is not {TorchSaveFile.LegacyProtocolVersion}.");
        if (header.Load() is not Dictionary<object, object?>)
            throw new InvalidDataException($"{path}: legacy torch.save sys info is not a dict.");
        var value = new TorchUnpickler(stream, path, pid => TorchSaveFile.LoadStorage(pid, path, storages, legacy: true)).Load();
        var keys = new TorchUnpickler(stream, path, _ => throw new InvalidDataException($"{path}: persistent id in the storage key list.")).Load();
        if (keys is not List<object?> keyList || keyList.Any(k => k is not string))
            throw new InvalidDataException($"{path}: the legacy storage key list is not a list of strings.");
        Span<byte> count = stackalloc byte[8];
        foreach (string key in keyList.Cast<string>())
        {
            if (!storages.TryGetValue(key, out var storage))
                throw new InvalidDataException($"{path}: storage {key} is listed but no tensor uses it.");
            if (offsets.ContainsKey(key)) throw new InvalidDataException($"{path}: storage {key} is listed twice.");
            stream.ReadExactly(count);
            long numel = BinaryPrimitives.ReadInt64LittleEndian(count);
            if (numel != storage.Numel)
                throw new InvalidDataException($"{path}: storage {key} holds {numel} elements where the pickle declares {storage.Numel}.");
            long left = stream.Length - stream.Position;
            if (storage.ByteCount > left)
                throw new InvalidDataException($"{path}: storage {key} declares {storage.ByteCount:N0} bytes but only {left:N0} remain in the file (truncated or forged).");
            offsets[key] = stream.Position;
            stream.Seek(storage.ByteCount, SeekOrigin.Current);
        }
        var missing = storages.Keys.FirstOrDefault(k => !offsets.ContainsKey(k));
        if (missing is not null) throw new InvalidDataException($"{path}: storage {missing} is used by a tensor but not stored in the file.");
        if (stream.Position != stream.Length)
            throw new InvalidDataException($"{path}: {stream.Length - stream.Position} unexpected bytes after the last storage.");
        return value;
    }

    public void Dispose()
    {
        _zip?.Dispose();
        _stream.Dispose();
    }
}
