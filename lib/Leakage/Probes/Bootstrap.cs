namespace Leakage.Probes;

/// <summary>A confidence interval [Lo, Hi] at a stated level.</summary>
public readonly record struct ConfidenceInterval(double Lo, double Hi, double Level)
{
    /// <summary>True when <paramref name="value"/> lies in [Lo, Hi].</summary>
    public bool Contains(double value) => value >= Lo && value <= Hi;
    /// <summary>Hi - Lo.</summary>
    public double Width => Hi - Lo;
}

/// <summary>
/// Percentile bootstrap over test points (Efron): resample the n per-point outcomes with replacement
/// <c>B</c> times, take the statistic of each resample, and report the <c>(1-level)/2</c> and
/// <c>(1+level)/2</c> quantiles. Seeded, so an interval is reproducible.
/// </summary>
public static class Bootstrap
{
    /// <summary>
    /// Percentile interval of the mean of <paramref name="values"/> (for 0/1 outcomes: of the accuracy),
    /// from <paramref name="resamples"/> resamples drawn with <c>new Random(seed)</c>. Quantiles interpolate
    /// linearly between order statistics.
    /// </summary>
    public static ConfidenceInterval MeanInterval(IReadOnlyList<double> values, int resamples = 1000, double level = 0.95, int seed = 0)
    {
        if (values.Count == 0) throw new ArgumentException("The bootstrap needs at least one value.", nameof(values));
        if (resamples < 1) throw new ArgumentOutOfRangeException(nameof(resamples), resamples, "Bootstrap resamples must be >= 1.");
        if (!(level > 0 && level < 1)) throw new ArgumentOutOfRangeException(nameof(level), level, "Confidence level must be in (0, 1).");
        var v = values as double[] ?? values.ToArray();
        int n = v.Length;
        var rng = new Random(seed);
        var stats = new double[resamples];
        for (int b = 0; b < resamples; b++)
        {
            double sum = 0;
            for (int i = 0; i < n; i++) sum += v[rng.Next(n)];
            stats[b] = sum / n;
        }
        Array.Sort(stats);
        return new ConfidenceInterval(Quantile(stats, (1 - level) / 2), Quantile(stats, (1 + level) / 2), level);
    }

    /// <summary>Percentile interval of the accuracy, the share of true entries of <paramref name="correct"/>.</summary>
    public static ConfidenceInterval AccuracyInterval(IReadOnlyList<bool> correct, int resamples = 1000, double level = 0.95, int seed = 0) =>
        MeanInterval(correct.Select(c => c ? 1.0 : 0.0).ToArray(), resamples, level, seed);

    /// <summary>Quantile q of sorted values, linear interpolation between order statistics (R type 7).</summary>
    internal static double Quantile(double[] sorted, double q)
    {
        var pos = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(pos), hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }
}
