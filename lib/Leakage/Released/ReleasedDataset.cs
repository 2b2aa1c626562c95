using static TorchSharp.torch;

namespace Leakage.Released;

/// <summary>
/// One released data set, loaded: all image chunks of <c>CIFAR_ims</c> concatenated in file order
/// and the labels of <c>CIFAR_lab</c> likewise, validated (see <see cref="ReleasedDatasets.Load(string)"/>).
/// Owns its tensors: dispose it to free them (the full CIFAR-10 sets take about 600 MB each).
/// </summary>
public sealed class ReleasedDataset : IDisposable
{
    internal ReleasedDataset(string name, string folder, ReleasedDatasetKind? kind, TorchSaveFormat format,
                             IReadOnlyList<long> chunkSizes, Tensor images, Tensor labels)
    {
        Name = name;
        Folder = folder;
        Kind = kind;
        Format = format;
        ChunkSizes = chunkSizes;
        Images = images;
        Labels = labels;
    }

    /// <summary>The folder name, e.g. <c>drand_CIFAR</c>.</summary>
    public string Name { get; }

    /// <summary>The folder the data set was loaded from.</summary>
    public string Folder { get; }

    /// <summary>Which released data set this is, or null when the folder name is not one of the four.</summary>
    public ReleasedDatasetKind? Kind { get; }

    /// <summary>The format <c>CIFAR_ims</c> was saved in (legacy for the 2019 release, zip if re-saved).</summary>
    public TorchSaveFormat Format { get; }

    /// <summary>The number of images in each chunk of <c>CIFAR_ims</c>, in file (and concatenation) order.</summary>
    public IReadOnlyList<long> ChunkSizes { get; }

    /// <summary>Images, N x 3 x 32 x 32 float32 on the CPU, contiguous, pixel values in [0, 1].</summary>
    public Tensor Images { get; }

    /// <summary>Labels, N int64 on the CPU, in 0..9 (for D_rand and D_det, the attack's target class).</summary>
    public Tensor Labels { get; }

    /// <summary>The number of examples N.</summary>
    public long Count => Labels.shape[0];

    public override string ToString() =>
        $"{Name}: {Count} images 3x32x32 float32 in [0, 1] with labels 0..9, {ChunkSizes.Count} chunk(s), {Format} format";

    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}
