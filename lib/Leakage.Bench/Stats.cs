namespace Leakage.Benchmarks;

/// <summary>The middle and the spread of a handful of measurements (rounds, steps).</summary>
/// <param name="Median">The median.</param>
/// <param name="Min">The smallest value.</param>
/// <param name="Max">The largest value.</param>
/// <param name="Q1">First quartile (linear interpolation between order statistics).</param>
/// <param name="Q3">Third quartile.</param>
/// <param name="Count">Number of values.</param>
public sealed record Spread(double Median, double Min, double Max, double Q1, double Q3, int Count)
{
    /// <summary>The spread of <paramref name="values"/> (at least one).</summary>
    public static Spread Of(IReadOnlyList<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("no values", nameof(values));
        var s = values.Order().ToArray();
        return new Spread(Stats.Quantile(s, 0.5), s[0], s[^1], Stats.Quantile(s, 0.25), Stats.Quantile(s, 0.75), s.Length);
    }
}

static class Stats
{
    public static double Median(IReadOnlyList<double> values) => Quantile(values.Order().ToArray(), 0.5);

    /// <summary>The q-quantile of ascending <paramref name="sorted"/> by linear interpolation (R type 7).</summary>
    public static double Quantile(double[] sorted, double q)
    {
        if (sorted.Length == 0) return double.NaN;
        double h = (sorted.Length - 1) * q;
        int lo = (int)Math.Floor(h);
        int hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
    }
}
