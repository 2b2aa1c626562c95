namespace Leakage.Experiment;

/// <summary>
/// Closed-form statistics of a proportion measured on n independent points (an accuracy on a test
/// set, the share of D_rand targets that equal the label): the Wilson score interval and a
/// normal-approximation band for a known true rate.
/// </summary>
public static class Proportions
{
    /// <summary>The standard normal quantile for a two-sided 95% interval.</summary>
    public const double Z95 = 1.959963984540054;

    /// <summary>
    /// Wilson score interval for <paramref name="successes"/> out of <paramref name="n"/>: well behaved
    /// near 0 and 1 (unlike p ± z·√(p(1-p)/n)), always inside [0, 1] and containing the observed share.
    /// </summary>
    /// <param name="successes">Points counted (0 to n).</param>
    /// <param name="n">Points in all (at least 1).</param>
    /// <param name="z">Normal quantile; <see cref="Z95"/> for 95%.</param>
    public static (double Lo, double Hi) Wilson(long successes, long n, double z = Z95)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "A proportion needs at least one point.");
        if (successes < 0 || successes > n) throw new ArgumentOutOfRangeException(nameof(successes), successes, $"Successes must be between 0 and n = {n}.");
        if (!(z > 0) || double.IsInfinity(z)) throw new ArgumentOutOfRangeException(nameof(z), z, "z must be a positive finite number.");
        double p = (double)successes / n, z2 = z * z;
        double centre = (p + z2 / (2.0 * n)) / (1 + z2 / n);
        double half = z / (1 + z2 / n) * Math.Sqrt(p * (1 - p) / n + z2 / (4.0 * n * n));
        // Rounding can put an end a hair past p at p = 0 or 1; keep the interval around the estimate.
        return (Math.Clamp(Math.Min(centre - half, p), 0, 1), Math.Clamp(Math.Max(centre + half, p), 0, 1));
    }

    /// <summary>
    /// Wilson interval for an accuracy <paramref name="accuracy"/> measured on <paramref name="n"/>
    /// points (the count is recovered as round(accuracy·n)).
    /// </summary>
    public static (double Lo, double Hi) WilsonForShare(double accuracy, long n, double z = Z95)
    {
        if (!(accuracy >= 0 && accuracy <= 1)) throw new ArgumentOutOfRangeException(nameof(accuracy), accuracy, "A share must be in [0, 1].");
        return Wilson((long)Math.Round(accuracy * n), n, z);
    }

    /// <summary>
    /// The band <c>rate ± sigmas·√(rate(1-rate)/n)</c> (clipped to [0, 1]) in which the observed share of
    /// <paramref name="n"/> independent draws with true probability <paramref name="rate"/> falls
    /// except with negligible probability for <paramref name="sigmas"/> = 5. Used to check, for
    /// example, that about 1 in 10 random D_rand targets equals the original label.
    /// </summary>
    public static (double Lo, double Hi) ExpectedBand(double rate, long n, double sigmas = 5)
    {
        if (!(rate >= 0 && rate <= 1)) throw new ArgumentOutOfRangeException(nameof(rate), rate, "A rate must be in [0, 1].");
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "A proportion needs at least one point.");
        double half = sigmas * Math.Sqrt(rate * (1 - rate) / n);
        return (Math.Max(0, rate - half), Math.Min(1, rate + half));
    }
}
