using Leakage.Randomness;
using Leakage.Data;
using Leakage.Models;
using Leakage.Native;
using Leakage.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Benchmarks;

/// <summary>
/// Images for the benchmark: synthetic (uniform random pixels and labels, drawn per request so that
/// no phase holds another phase's data) or a real training split. Timings do not depend on pixel
/// values; real images only make the robust-linear and D_rand phases look like the experiment's.
/// </summary>
public sealed class BenchmarkData
{
    readonly CifarSplit? _split;
    readonly long _seed;

    BenchmarkData(CifarSplit? split, long seed, string source)
    {
        _split = split;
        _seed = seed;
        Source = source;
    }

    /// <summary>"synthetic", or where the real images came from.</summary>
    public string Source { get; }

    /// <summary>Synthetic data seeded with <paramref name="seed"/>.</summary>
    public static BenchmarkData Synthetic(long seed = 0) => new(null, seed, "synthetic");

    /// <summary>Images of <paramref name="split"/> (not owned: the caller disposes it after the benchmark).</summary>
    public static BenchmarkData From(CifarSplit split, string source)
    {
        ArgumentNullException.ThrowIfNull(split);
        if (split.Count == 0) throw new ArgumentException($"The data split '{split.Name}' from {source} holds no images.", nameof(split));
        return new(split, 0, source);
    }

    /// <summary>
    /// <paramref name="count"/> images (float32 N x 3 x 32 x 32 in [0, 1], CPU) and labels (int64 N)
    /// as new tensors the caller owns. Real data repeats cyclically when it has fewer images;
    /// <paramref name="stream"/> gives synthetic requests independent draws.
    /// </summary>
    public (Tensor Images, Tensor Labels) Take(long count, int stream = 0)
    {
        TorchNative.Ensure();
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "must be at least 1");
        using var scope = NewDisposeScope();
        Tensor images, labels;
        if (_split is null)
        {
            using var g = new Generator(Seeds.Derive(_seed, stream, 7), CPU);
            images = rand(CifarStats.BatchShape(count), generator: g);
            labels = randint(0, CifarStats.Classes, [count], generator: g);
        }
        else
        {
            var index = Scalars.With(_split.Count, n => Scalars.Arange(count).remainder(n));
            images = _split.Images.index_select(0, index).to(ScalarType.Float32);
            labels = _split.Labels.index_select(0, index).to(ScalarType.Int64);
        }
        return (images.MoveToOuterDisposeScope(), labels.MoveToOuterDisposeScope());
    }
}
