using Leakage.Native;
using Leakage.Data;
using static TorchSharp.torch;

namespace Leakage.Experiment;

/// <summary>
/// The training images the leakage controls share (<c>controls.trainCount</c>): a class-stratified
/// subset of the run's training split, or all of it, with the rows of the split it took, so that the
/// controls made from D_rand and D_det (restricted to these rows) and those made from the clean images
/// (D_other, the leakage-only sets) hold the same images.
/// </summary>
public sealed class ControlImages : IDisposable
{
    ControlImages(Tensor rows, CifarSplit split, bool all)
    {
        Rows = rows;
        Split = split;
        All = all;
    }

    /// <summary>Rows of the run's training split, int64, increasing, on the CPU.</summary>
    public Tensor Rows { get; }

    /// <summary>The images and labels of <see cref="Rows"/>.</summary>
    public CifarSplit Split { get; }

    /// <summary>Whether they are the whole training split (then <see cref="Split"/> is the run's own).</summary>
    public bool All { get; }

    /// <summary>Number of images.</summary>
    public int Count => Split.Count;

    /// <summary>
    /// The controls' images of <paramref name="train"/>: <paramref name="count"/> of them chosen with
    /// <see cref="CifarSplit.SubsetRows"/> and <paramref name="seed"/>, or all when <paramref name="count"/>
    /// is 0 or at least the split's size. A subset owns its copies; the whole split is borrowed.
    /// </summary>
    public static ControlImages Of(CifarSplit train, int count, long seed)
    {
        ArgumentNullException.ThrowIfNull(train);
        if (count <= 0 || count >= train.Count)
            return new ControlImages(Scalars.Arange(train.Count), train, all: true);
        var rows = tensor(train.SubsetRows(count, seed), dtype: ScalarType.Int64);
        var split = new CifarSplit(train.Name, train.Images.index_select(0, rows), train.Labels.index_select(0, rows));
        return new ControlImages(rows, split, all: false);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Rows.Dispose();
        if (!All) Split.Dispose();
    }
}
