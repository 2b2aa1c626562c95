using Leakage.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Data;

/// <summary>
/// One split of CIFAR-10 in memory: <see cref="Images"/> float32 N x 3 x 32 x 32 with values in
/// [0,1] and <see cref="Labels"/> int64 N with values 0..9, both on the CPU.
/// </summary>
public sealed class CifarSplit : IDisposable
{
    public string Name { get; }
    public Tensor Images { get; }
    public Tensor Labels { get; }
    public int Count => (int)Labels.shape[0];

    /// <summary>Takes ownership of the tensors.</summary>
    public CifarSplit(string name, Tensor images, Tensor labels)
    {
        if (images.dim() != 4 || images.shape[1] != Cifar10.Channels || images.shape[2] != Cifar10.Height || images.shape[3] != Cifar10.Width)
            throw new ArgumentException($"{name}: images must be N x 3 x 32 x 32, got [{string.Join(", ", images.shape)}]");
        if (labels.dim() != 1 || labels.shape[0] != images.shape[0])
            throw new ArgumentException($"{name}: {labels.shape[0]} labels for {images.shape[0]} images");
        if (images.dtype != ScalarType.Float32 || labels.dtype != ScalarType.Int64)
            throw new ArgumentException($"{name}: expected float32 images and int64 labels, got {images.dtype} and {labels.dtype}");
        Name = name;
        Images = images;
        Labels = labels;
    }

    /// <summary>
    /// Builds a split from 8-bit pixels in CHW order per image (the CIFAR binary layout) and labels.
    /// </summary>
    public static CifarSplit FromBytes(string name, byte[] pixels, long[] labels)
    {
        TorchNative.Ensure();
        int n = labels.Length;
        if (pixels.Length != (long)n * Cifar10.ImageSize)
            throw new ArgumentException($"{name}: {pixels.Length} pixel bytes for {n} images");
        using var scope = NewDisposeScope();
        var images = Scalars.With(255.0, max => torch.tensor(pixels, dtype: ScalarType.Byte)
            .reshape(n, Cifar10.Channels, Cifar10.Height, Cifar10.Width)
            .to_type(ScalarType.Float32).div_(max));
        var y = torch.tensor(labels, dtype: ScalarType.Int64);
        return new CifarSplit(name, images.MoveToOuterDisposeScope(), y.MoveToOuterDisposeScope());
    }

    /// <summary>Images per class, for balance tables.</summary>
    public long[] ClassCounts()
    {
        using var c = torch.bincount(Labels, minlength: Cifar10.Classes);
        return c.data<long>().ToArray();
    }

    /// <summary>
    /// A class-stratified subset of <paramref name="count"/> images (as equal per class as possible),
    /// chosen with a seeded permutation and kept in the original order. Returns a new split that owns
    /// copies; the whole split when <paramref name="count"/> is at least <see cref="Count"/>.
    /// </summary>
    public CifarSplit Subset(int count, long seed)
    {
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), "subset size must be positive");
        if (count >= Count) return new CifarSplit(Name, Images.clone(), Labels.clone());
        using var scope = NewDisposeScope();
        var idx = torch.tensor(SubsetRows(count, seed), dtype: ScalarType.Int64);
        var x = Images.index_select(0, idx).MoveToOuterDisposeScope();
        var y = Labels.index_select(0, idx).MoveToOuterDisposeScope();
        return new CifarSplit(Name, x, y);
    }

    /// <summary>
    /// The rows <see cref="Subset"/> takes, in increasing order: a class-stratified choice of
    /// <paramref name="count"/> rows from a seeded permutation (all rows when <paramref name="count"/>
    /// is at least <see cref="Count"/>), for callers that need to know which images a subset holds.
    /// </summary>
    public long[] SubsetRows(int count, long seed)
    {
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), "subset size must be positive");
        if (count >= Count) return [.. Enumerable.Range(0, Count).Select(i => (long)i)];
        using var scope = NewDisposeScope();
        var gen = new torch.Generator((ulong)seed);
        var perm = torch.randperm(Count, generator: gen);
        var labelsPerm = Labels.index_select(0, perm).data<long>().ToArray();
        var permIdx = perm.data<long>().ToArray();
        var counts = ClassCounts();
        // Per-class quota proportional to availability, rounded so the quotas sum to count.
        var quota = new int[Cifar10.Classes];
        int assigned = 0;
        for (int c = 0; c < quota.Length; c++) { quota[c] = (int)(count * counts[c] / Count); assigned += quota[c]; }
        for (int c = 0; assigned < count; c = (c + 1) % quota.Length)
            if (quota[c] < counts[c]) { quota[c]++; assigned++; }
        var chosen = new List<long>(count);
        var taken = new int[Cifar10.Classes];
        for (int i = 0; i < permIdx.Length && chosen.Count < count; i++)
        {
            var c = (int)labelsPerm[i];
            if (taken[c] < quota[c]) { taken[c]++; chosen.Add(permIdx[i]); }
        }
        chosen.Sort();
        return [.. chosen];
    }

    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}

/// <summary>The train and test splits of CIFAR-10 and where they came from.</summary>
public sealed class CifarData(CifarSplit train, CifarSplit test, DataFormat format, string source) : IDisposable
{
    public CifarSplit Train { get; } = train;
    public CifarSplit Test { get; } = test;
    public DataFormat Format { get; } = format;
    /// <summary>The folder the data were read from.</summary>
    public string Source { get; } = source;

    public void Dispose()
    {
        Train.Dispose();
        Test.Dispose();
    }
}

/// <summary>On-disk layouts the loader understands.</summary>
public enum DataFormat
{
    /// <summary>The official binary release: cifar-10-batches-bin/data_batch_1..5.bin, test_batch.bin.</summary>
    Binary,
    /// <summary>Image files: train/&lt;class&gt;/* and test/&lt;class&gt;/*.</summary>
    ImageFolder,
}
