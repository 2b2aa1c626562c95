namespace Leakage.Probes;

/// <summary>
/// Two classifiers scored on the same test points, compared point by point: the difference of their
/// accuracies with a paired-bootstrap interval, and McNemar's exact test on the discordant points.
/// </summary>
/// <param name="Difference">Accuracy of the first minus accuracy of the second.</param>
/// <param name="Interval">Paired percentile-bootstrap interval of <paramref name="Difference"/> (test points resampled once for both).</param>
/// <param name="FirstOnly">Points only the first classifies correctly.</param>
/// <param name="SecondOnly">Points only the second classifies correctly.</param>
/// <param name="PValue">Two-sided exact McNemar p-value: under "equally accurate", each discordant point is a fair coin.</param>
public sealed record PairedComparison(double Difference, ConfidenceInterval Interval, int FirstOnly, int SecondOnly, double PValue)
{
    /// <summary>The first is more accurate at <paramref name="alpha"/>: the test rejects and the difference is positive.</summary>
    public bool FirstAbove(double alpha = 0.05) => PValue < alpha && Difference > 0;

    /// <inheritdoc/>
    public override string ToString() =>
        $"difference {Difference:+0.00%;-0.00%} [{Interval.Lo:+0.00%;-0.00%}, {Interval.Hi:+0.00%;-0.00%}], discordant {FirstOnly}/{SecondOnly}, McNemar p = {PValue:G3}";
}

/// <summary>Paired comparisons of per-point correctness (<see cref="PairedComparison"/>).</summary>
public static class Paired
{
    /// <summary>
    /// Compares <paramref name="first"/> with <paramref name="second"/>, the per-point correctness of two
    /// classifiers on the same test points in the same order.
    /// </summary>
    public static PairedComparison Compare(IReadOnlyList<bool> first, IReadOnlyList<bool> second, int resamples = 1000, double level = 0.95, int seed = 0)
    {
        if (first.Count != second.Count)
            throw new ArgumentException($"A paired comparison needs the same test points: {first.Count} and {second.Count} outcomes given.");
        if (first.Count == 0) throw new ArgumentException("A paired comparison needs at least one test point.", nameof(first));
        var d = new double[first.Count];
        int firstOnly = 0, secondOnly = 0;
        for (int i = 0; i < d.Length; i++)
        {
            d[i] = (first[i] ? 1 : 0) - (second[i] ? 1 : 0);
            if (d[i] > 0) firstOnly++; else if (d[i] < 0) secondOnly++;
        }
        // Resampling the per-point differences resamples the test points once for both classifiers.
        var interval = Bootstrap.MeanInterval(d, resamples, level, seed);
        return new PairedComparison((firstOnly - secondOnly) / (double)d.Length, interval, firstOnly, secondOnly, McNemarExact(firstOnly, secondOnly));
    }

    /// <summary>
    /// Two-sided exact McNemar test: <c>min(1, 2 P(X &lt;= min(b, c)))</c> with <c>X ~ Binomial(b + c, 1/2)</c>.
    /// Written out (a binomial tail in log space, a few lines) rather than taken from a statistics
    /// package: the library has no statistics dependency and this is the whole test.
    /// </summary>
    public static double McNemarExact(int b, int c)
    {
        if (b < 0 || c < 0) throw new ArgumentOutOfRangeException(nameof(b), "Counts of discordant pairs must be >= 0.");
        int n = b + c, k = Math.Min(b, c);
        if (n == 0) return 1;
        // log P(X = j) by the recurrence P(j+1) = P(j) (n - j) / (j + 1), summed with log-sum-exp.
        double logP = n * Math.Log(0.5), max = logP;
        var terms = new double[k + 1];
        for (int j = 0; j <= k; j++)
        {
            terms[j] = logP;
            max = Math.Max(max, logP);
            logP += Math.Log(n - j) - Math.Log(j + 1);
        }
        double sum = 0;
        foreach (var t in terms) sum += Math.Exp(t - max);
        return Math.Min(1, 2 * Math.Exp(max + Math.Log(sum)));
    }
}
