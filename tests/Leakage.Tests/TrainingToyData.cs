using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Tests;

/// <summary>
/// Tiny synthetic CIFAR-shaped data a small CNN learns in a few epochs: a noisy grey background with
/// an 8 x 8 patch whose colour encodes the class, at a random position.
/// </summary>
static class ToyCifar
{
    static readonly float[][] Palette =
    [
        [1f, 0f, 0f], [0f, 1f, 0f], [0f, 0f, 1f], [1f, 1f, 0f], [1f, 0f, 1f],
        [0f, 1f, 1f], [1f, 1f, 1f], [0f, 0f, 0f], [1f, 0.5f, 0f], [0.5f, 0f, 1f],
    ];

    /// <summary>n images (float32 n x 3 x 32 x 32 in [0, 1]) and balanced labels (int64 n), reproducible from <paramref name="seed"/>.</summary>
    public static (Tensor Images, Tensor Labels) Make(int n, long seed)
    {
        using var g = new Generator((ulong)seed, CPU);
        using var scope = NewDisposeScope();
        var labels = arange(n, dtype: ScalarType.Int64).remainder(10);
        labels = labels.index_select(0, randperm(n, generator: g));
        var images = (0.5f + 0.1f * (rand([n, 3, 32, 32], generator: g) - 0.5f)).contiguous();
        var pos = randint(0, 24, [n, 2], generator: g);
        var lab = labels.data<long>().ToArray();
        var p = pos.data<long>().ToArray();
        for (int i = 0; i < n; i++)
        {
            var colour = tensor(Palette[lab[i]]).view(3, 1, 1);
            long r = p[2 * i], c = p[2 * i + 1];
            images[i, .., TensorIndex.Slice(r, r + 8), TensorIndex.Slice(c, c + 8)] = colour.expand(3, 8, 8);
        }
        return (images.MoveToOuterDisposeScope(), labels.MoveToOuterDisposeScope());
    }
}
