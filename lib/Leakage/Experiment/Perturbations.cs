using Leakage.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Experiment;

/// <summary>
/// Sizes of the perturbations in an adversarial data set: how far each attacked image moved from
/// its clean original, in the L2 norm of pixel space [0, 1] (the space the attack's radius is
/// measured in), with a summary against the attack radius.
/// </summary>
/// <param name="Count">Number of images.</param>
/// <param name="Eps">The attack radius the norms are compared with.</param>
/// <param name="Min">Smallest norm.</param>
/// <param name="Median">Median norm.</param>
/// <param name="Mean">Mean norm.</param>
/// <param name="Max">Largest norm (at most <paramref name="Eps"/> for a correct attack, up to float rounding).</param>
/// <param name="AtBoundary">Share of images whose norm is at least 99% of <paramref name="Eps"/> (the attack used its whole budget).</param>
/// <param name="Unchanged">Share of images the attack did not move at all (norm 0).</param>
public sealed record PerturbationSummary(int Count, double Eps, double Min, double Median, double Mean, double Max, double AtBoundary, double Unchanged)
{
    /// <summary>
    /// Relative float32 tolerance for <see cref="WithinBall"/>: PGD projects in float32, so a norm
    /// may exceed the radius by a few units in the last place.
    /// </summary>
    public const double Tolerance = 1e-4;

    /// <summary>True when every perturbation lies in the ball of radius <see cref="Eps"/> (up to <see cref="Tolerance"/>).</summary>
    public bool WithinBall => Max <= Eps * (1 + Tolerance);
}

/// <summary>Perturbation norms of adversarial images against their originals.</summary>
public static class Perturbations
{
    /// <summary>
    /// Per-image L2 norms <c>||x_adv - x||_2</c> (float64) for two batches of the same shape
    /// (N x C x H x W or N x D), computed in chunks so 50,000 CIFAR images need little memory.
    /// </summary>
    /// <exception cref="ArgumentException">The shapes differ or the batch is empty.</exception>
    public static double[] L2Norms(Tensor original, Tensor adversarial, int chunk = 4096)
    {
        ArgumentNullException.ThrowIfNull(original);
        ArgumentNullException.ThrowIfNull(adversarial);
        TorchNative.Ensure();
        if (!original.shape.SequenceEqual(adversarial.shape))
            throw new ArgumentException($"Original [{string.Join(", ", original.shape)}] and adversarial [{string.Join(", ", adversarial.shape)}] shapes differ.");
        if (original.dim() < 2 || original.shape[0] == 0)
            throw new ArgumentException($"Expected a non-empty batch N x ..., got shape [{string.Join(", ", original.shape)}].", nameof(original));
        if (chunk < 1) throw new ArgumentOutOfRangeException(nameof(chunk), "The chunk size must be positive.");
        long n = original.shape[0];
        var norms = new double[n];
        using var _ = no_grad();
        for (long start = 0; start < n; start += chunk)
        {
            using var scope = NewDisposeScope();
            long count = Math.Min(chunk, n - start);
            var a = original.narrow(0, start, count).flatten(1).to(ScalarType.Float64, CPU);
            var b = adversarial.narrow(0, start, count).flatten(1).to(ScalarType.Float64, CPU);
            var d = linalg.vector_norm(b - a, ord: 2, dims: [1L]);
            d.data<double>().CopyTo(norms.AsSpan((int)start, (int)count));
        }
        return norms;
    }

    /// <summary>Summarises norms (as from <see cref="L2Norms"/>) against the attack radius <paramref name="eps"/>.</summary>
    public static PerturbationSummary Summarize(IReadOnlyList<double> norms, double eps)
    {
        ArgumentNullException.ThrowIfNull(norms);
        if (norms.Count == 0) throw new ArgumentException("No perturbation norms to summarise.", nameof(norms));
        if (!(eps > 0) || double.IsInfinity(eps)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "The attack radius must be a positive finite number.");
        if (norms.Any(v => !double.IsFinite(v) || v < 0)) throw new ArgumentException("A perturbation norm is negative, NaN or infinite.", nameof(norms));
        var sorted = norms.Order().ToArray();
        int n = sorted.Length;
        double median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        return new PerturbationSummary(n, eps, sorted[0], median, sorted.Average(), sorted[^1],
            AtBoundary: sorted.Count(v => v >= 0.99 * eps) / (double)n,
            Unchanged: sorted.Count(v => v == 0) / (double)n);
    }
}
