using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Released;

/// <summary>
/// One storage of a torch.save file: its key (the legacy storage id or the zip entry name under
/// <c>data/</c>), element type and element count as the pickle declares them, and, once read, its
/// bytes as a 1-D tensor.
/// </summary>
internal sealed class StorageRecord(string key, ScalarType dtype, int elementSize, long numel)
{
    public string Key { get; } = key;
    public ScalarType DType { get; } = dtype;
    public int ElementSize { get; } = elementSize;
    public long Numel { get; } = numel;
    public long ByteCount => Numel * ElementSize;
    public Tensor? Data { get; set; }

    /// <summary>Element type and size for a pickled storage class such as <c>torch.FloatStorage</c>.</summary>
    public static (ScalarType DType, int ElementSize)? Lookup(PyGlobal type) =>
        type.Module is "torch" or "torch.cuda" ? type.Name switch
        {
            "FloatStorage" => (ScalarType.Float32, 4),
            "DoubleStorage" => (ScalarType.Float64, 8),
            "HalfStorage" => (ScalarType.Float16, 2),
            "BFloat16Storage" => (ScalarType.BFloat16, 2),
            "LongStorage" => (ScalarType.Int64, 8),
            "IntStorage" => (ScalarType.Int32, 4),
            "ShortStorage" => (ScalarType.Int16, 2),
            "CharStorage" => (ScalarType.Int8, 1),
            "ByteStorage" => (ScalarType.Byte, 1),
            "BoolStorage" => (ScalarType.Bool, 1),
            _ => null,
        } : null;
}

/// <summary>
/// A window of a storage, in elements: the whole storage, or a legacy storage view (torch before
/// 1.x could save <c>storage[a:b]</c>; the pickle then carries <c>(view_key, offset, size)</c>).
/// </summary>
internal sealed record StorageSlice(StorageRecord Root, long Offset, long Numel);

/// <summary>
/// A tensor as <c>torch._utils._rebuild_tensor_v2</c> describes it: a strided view
/// (<see cref="Shape"/>, <see cref="Stride"/>, <see cref="Offset"/> in elements) of a storage.
/// </summary>
internal sealed class TensorRecord
{
    public required StorageSlice Storage { get; init; }
    public required long Offset { get; init; }
    public required long[] Shape { get; init; }
    public required long[] Stride { get; init; }

    public long Numel => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>Checks the arguments of a rebuild call and that the view stays inside its storage.</summary>
    public static TensorRecord Create(object? storage, object? offset, object? size, object? stride, TorchUnpickler u)
    {
        var slice = storage as StorageSlice ?? throw u.Bad($"tensor rebuilt from a {TorchUnpickler.Describe(storage)} instead of a storage");
        var shape = Longs(size, "size", u);
        var strides = Longs(stride, "stride", u);
        long start = offset is long o ? o : throw u.Bad("tensor storage offset is not an integer");
        if (shape.Length != strides.Length) throw u.Bad($"tensor with {shape.Length} sizes but {strides.Length} strides");
        if (start < 0 || shape.Any(s => s < 0) || strides.Any(s => s < 0))
            throw u.Bad($"tensor with a negative size, stride or offset (size [{string.Join(", ", shape)}], stride [{string.Join(", ", strides)}], offset {start})");
        var record = new TensorRecord { Storage = slice, Offset = start, Shape = shape, Stride = strides };
        if (record.Numel > 0)
        {
            long last = start;
            try
            {
                for (int i = 0; i < shape.Length; i++) last = checked(last + (shape[i] - 1) * strides[i]);
            }
            catch (OverflowException)
            {
                last = long.MaxValue;
            }
            if (last >= slice.Numel)
                throw u.Bad($"tensor of size [{string.Join(", ", shape)}], stride [{string.Join(", ", strides)}] and offset {start} "
                            + $"reaches element {last} of a storage of {slice.Numel} elements");
        }
        return record;
    }

    /// <summary>The tensor, as a view of its storage's data (which must have been read).</summary>
    public Tensor Materialize()
    {
        var root = Storage.Root;
        var data = root.Data ?? throw new InvalidOperationException($"storage {root.Key} was not read");
        return Numel == 0
            ? torch.empty(Shape, root.DType)
            : data.as_strided(Shape, Stride, Storage.Offset + Offset);
    }

    private static long[] Longs(object? value, string what, TorchUnpickler u) => value switch
    {
        object?[] items => items.Select(i => i is long l ? l : throw u.Bad($"tensor {what} holds a {TorchUnpickler.Describe(i)}")).ToArray(),
        List<object?> items => items.Select(i => i is long l ? l : throw u.Bad($"tensor {what} holds a {TorchUnpickler.Describe(i)}")).ToArray(),
        _ => throw u.Bad($"tensor {what} is a {TorchUnpickler.Describe(value)}, not a tuple"),
    };
}
