namespace Leakage.Probes;

/// <summary>
/// Mean and sample standard deviation of a list of values: the one implementation behind the seed
/// studies, the null over target draws and the benchmark's timings.
/// </summary>
public static class SampleStatistics
{
    /// <summary>Arithmetic mean; NaN for no values.</summary>
    public static double Mean(IReadOnlyList<double> values) => values.Count == 0 ? double.NaN : values.Average();

    /// <summary>Sample standard deviation (divisor n - 1); NaN with fewer than two values, where it is undefined.</summary>
    public static double Sd(IReadOnlyList<double> values)
    {
        if (values.Count < 2) return double.NaN;
        double mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
    }
}
