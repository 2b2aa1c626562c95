using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using static TorchSharp.torch;

namespace Leakage.Export;

/// <summary>
/// Writes a list of tensors as <c>torch.save(list_of_tensors, path)</c> does (zip format, pickle
/// protocol 2), the shape of the files in Ilyas et al.'s <c>release_datasets/</c>: read in PyTorch
/// with <c>torch.cat(torch.load(path))</c> and here with <see cref="Released.TorchSaveFile"/>.
/// Hand-written because TorchSharp.PyBridge pickles only dictionaries (state_dicts); the pickle
/// stream is the few opcodes <c>torch.save</c> itself emits for this shape.
/// </summary>
public static class TorchListFile
{
    /// <summary>
    /// Writes <paramref name="tensors"/> (CPU or not; any dtype PyTorch has a storage type for,
    /// stored contiguous) to <paramref name="path"/>, replacing it atomically.
    /// </summary>
    public static void Write(string path, IReadOnlyList<Tensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        IO.AtomicFile.Write(path, stream =>
        {
            using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
            // "archive" is the record prefix torch.save uses; torch.load takes whatever the first record names.
            WriteEntry(zip, "archive/version", Encoding.ASCII.GetBytes("3\n"));
            var pickle = new MemoryStream();
            pickle.Write([0x80, 2]);          // PROTO 2
            pickle.WriteByte((byte)']');      // EMPTY_LIST
            pickle.WriteByte((byte)'(');      // MARK
            for (int i = 0; i < tensors.Count; i++)
            {
                using var t = tensors[i].cpu().contiguous();
                Global(pickle, "torch._utils", "_rebuild_tensor_v2");
                pickle.WriteByte((byte)'(');                       // MARK: the arguments
                pickle.WriteByte((byte)'(');                       // MARK: the persistent id tuple
                Unicode(pickle, "storage");
                Global(pickle, "torch", StorageName(t.dtype));
                Unicode(pickle, i.ToString(System.Globalization.CultureInfo.InvariantCulture));
                Unicode(pickle, "cpu");
                Int(pickle, t.numel());
                pickle.WriteByte((byte)'t');                       // TUPLE
                pickle.WriteByte((byte)'Q');                       // BINPERSID
                Int(pickle, 0);                                    // storage offset
                IntTuple(pickle, t.shape);
                IntTuple(pickle, t.stride());
                pickle.WriteByte(0x89);                            // NEWFALSE: requires_grad
                Global(pickle, "collections", "OrderedDict");      // backward hooks: OrderedDict()
                pickle.WriteByte((byte)')');                       // EMPTY_TUPLE
                pickle.WriteByte((byte)'R');                       // REDUCE
                pickle.WriteByte((byte)'t');                       // TUPLE
                pickle.WriteByte((byte)'R');                       // REDUCE: _rebuild_tensor_v2(...)
                var entry = zip.CreateEntry($"archive/data/{i}", CompressionLevel.NoCompression);
                using var data = entry.Open();
                data.Write(t.bytes);
            }
            pickle.WriteByte((byte)'e');      // APPENDS
            pickle.WriteByte((byte)'.');      // STOP
            WriteEntry(zip, "archive/data.pkl", pickle.ToArray());
        });
    }

    static void WriteEntry(ZipArchive zip, string name, byte[] bytes)
    {
        using var s = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
        s.Write(bytes);
    }

    static string StorageName(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "FloatStorage",
        ScalarType.Float64 => "DoubleStorage",
        ScalarType.Float16 => "HalfStorage",
        ScalarType.BFloat16 => "BFloat16Storage",
        ScalarType.Int64 => "LongStorage",
        ScalarType.Int32 => "IntStorage",
        ScalarType.Int16 => "ShortStorage",
        ScalarType.Int8 => "CharStorage",
        ScalarType.Byte => "ByteStorage",
        ScalarType.Bool => "BoolStorage",
        _ => throw new NotSupportedException($"No PyTorch storage type for {dtype}."),
    };

    static void Global(Stream s, string module, string name)
    {
        s.WriteByte((byte)'c');
        s.Write(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));
    }

    static void Unicode(Stream s, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        s.WriteByte((byte)'X');               // BINUNICODE
        Span<byte> n = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(n, (uint)bytes.Length);
        s.Write(n);
        s.Write(bytes);
    }

    static void Int(Stream s, long value)
    {
        if (value is >= int.MinValue and <= int.MaxValue)
        {
            s.WriteByte((byte)'J');           // BININT
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(b, (int)value);
            s.Write(b);
        }
        else
        {
            s.Write([0x8a, 8]);               // LONG1, 8 bytes
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(b, value);
            s.Write(b);
        }
    }

    static void IntTuple(Stream s, long[] values)
    {
        s.WriteByte((byte)'(');
        foreach (var v in values) Int(s, v);
        s.WriteByte((byte)'t');
    }
}
