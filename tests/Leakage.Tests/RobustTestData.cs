using Leakage.Attacks;
using Leakage.Robust;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Tests;

/// <summary>Tiny synthetic CIFAR-shaped data and models for the robust, certificate and probe tests.</summary>
static class RobustTestData
{
    public const int Dim = CifarNormalisation.Dimension;

    /// <summary>
    /// Class means drawn in [0.3, 0.7], one per class, seeded (K x D).
    /// </summary>
    public static Tensor Means(int classes, int seed, long dim = Dim, ScalarType dtype = ScalarType.Float64) =>
        (rand([classes, dim], dtype: dtype, generator: new Generator((ulong)seed)) * 0.4 + 0.3);

    /// <summary>
    /// Gaussian blobs around <paramref name="means"/>: balanced labels (i mod K), images N x 3 x 32 x 32
    /// (or N x D for other D), pixel noise of standard deviation <paramref name="spread"/>, clamped to [0,1].
    /// </summary>
    public static (Tensor X, Tensor Y) Blobs(Tensor means, int n, double spread, int seed)
    {
        var g = new Generator((ulong)seed);
        int k = (int)means.shape[0];
        var y = arange(n, dtype: ScalarType.Int64) % k;
        var x = (means.index_select(0, y) + spread * randn([n, means.shape[1]], dtype: means.dtype, generator: g)).clamp(0, 1);
        if (means.shape[1] == Dim) x = x.reshape(n, 3, 32, 32);
        return (x, y);
    }

    /// <summary>The nearest-mean classifier of <paramref name="means"/>: z_k = m_k^T x - ||m_k||^2 / 2 (float32 parameters).</summary>
    public static LinearClassifier NearestMean(Tensor means)
    {
        var b = -0.5 * means.square().sum(1);
        return LinearClassifier.FromWeights(means, b);
    }

    /// <summary>
    /// Ten classes whose signal comes in two blocks of pixels, in the spirit of Ilyas et al.:
    /// a robust block (class pattern ±<paramref name="robustAmplitude"/> around 0.5, noise sd
    /// <paramref name="robustNoise"/>) whose classes are far apart in L2 but noisy, and a fragile block
    /// (pattern ±<paramref name="fragileAmplitude"/>, noise sd <paramref name="fragileNoise"/>) that
    /// separates the classes almost without noise but only by a small L2 distance. Float32, balanced
    /// labels; the patterns depend on <paramref name="patternSeed"/>, the noise on <paramref name="seed"/>.
    /// </summary>
    public static (Tensor X, Tensor Y) RobustAndFragile(int n, int seed, int robustWidth = 100, int fragileWidth = 50,
        float robustAmplitude = 0.1f, float robustNoise = 0.3f, float fragileAmplitude = 0.02f, float fragileNoise = 0.01f, int patternSeed = 11)
    {
        var gp = new Generator((ulong)patternSeed);
        var robust = (randint(0, 2, [10, robustWidth], generator: gp).to(ScalarType.Float32) * 2 - 1) * robustAmplitude;
        var fragile = (randint(0, 2, [10, fragileWidth], generator: gp).to(ScalarType.Float32) * 2 - 1) * fragileAmplitude;
        var g = new Generator((ulong)seed);
        var y = arange(n, dtype: ScalarType.Int64) % 10;
        var xr = robust.index_select(0, y) + robustNoise * randn([n, robustWidth], generator: g);
        var xf = fragile.index_select(0, y) + fragileNoise * randn([n, fragileWidth], generator: g);
        return ((cat([xr, xf], 1) + 0.5f).clamp(0, 1), y);
    }

    /// <summary>Flattens to N x D in float64.</summary>
    public static Tensor Flat(Tensor x) => x.flatten(1).to(ScalarType.Float64);
}
