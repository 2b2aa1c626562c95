using System.Text.Json.Serialization;

namespace Leakage.Probes;

/// <summary>
/// The uncertainty of a probe's excess over its matched null, in one place for its interval, its
/// p-value and its verdict, so that all three come from the same variance (docs/statistics.md).
/// </summary>
/// <param name="Excess">The observed excess (probe accuracy minus null accuracy).</param>
/// <param name="StandardError">Its standard error.</param>
/// <param name="DegreesOfFreedom">Degrees of freedom of the t quantile and of the p-value (infinity: normal).</param>
/// <param name="Level">Confidence level of <see cref="Interval"/>.</param>
/// <param name="Quantile">The quantile the interval is built with (t or normal at (1 + level) / 2).</param>
/// <param name="MonteCarloError">Standard deviation of an interval end that comes from estimating the standard error from a finite number of draws or resamples.</param>
/// <param name="Source">How the standard error was measured: <see cref="FreshDraws"/>, <see cref="TrainingBootstrap"/>, <see cref="TestPoints"/> or <see cref="FirstPass"/>.</param>
/// <param name="Covers">What the interval covers, in words.</param>
public sealed record ExcessUncertainty(double Excess, double StandardError, double DegreesOfFreedom, double Level, double Quantile,
    double MonteCarloError, string Source, string Covers)
{
    /// <summary>Source: the spread of the excess over emulated fresh target draws, plus the test points' variance.</summary>
    public const string FreshDraws = "fresh target draws";
    /// <summary>Source: refits on training images resampled within each class, and test points.</summary>
    public const string TrainingBootstrap = "training bootstrap";
    /// <summary>Source: test points only, the fits held fixed.</summary>
    public const string TestPoints = "test points";
    /// <summary>Source: a results.json of the first pass (no <c>mcnemarP</c>): its recorded normal interval from a training bootstrap, read back.</summary>
    public const string FirstPass = "first-pass training bootstrap (recorded interval)";

    /// <summary>The verdict words.</summary>
    public const string Above = "above", Below = "below", Undecided = "undecided";

    /// <summary>Excess -/+ quantile x standard error.</summary>
    [JsonIgnore] public ConfidenceInterval Interval => new(Excess - Quantile * StandardError, Excess + Quantile * StandardError, Level);

    /// <summary>Two-sided p-value of "no excess" from the same standard error and degrees of freedom as <see cref="Interval"/>.</summary>
    [JsonIgnore]
    public double PValue => StandardError > 0 ? StudentT.TwoSidedP(Excess / StandardError, DegreesOfFreedom) : Excess == 0 ? 1 : 0;

    /// <summary>
    /// "above" when the interval's lower end clears zero by more than its Monte-Carlo error, "below"
    /// when the upper end does, else "undecided": an interval that touches zero within its own
    /// Monte-Carlo error decides nothing.
    /// </summary>
    [JsonIgnore]
    public string Verdict
    {
        get
        {
            var i = Interval;
            return i.Lo > MonteCarloError && i.Lo > 0 ? Above : i.Hi < -MonteCarloError && i.Hi < 0 ? Below : Undecided;
        }
    }

    /// <summary>
    /// A standard error estimated with <paramref name="df"/> degrees of freedom: a t interval, and an end's
    /// Monte-Carlo error <c>q se / sqrt(2 df)</c> (the standard deviation of an estimated standard deviation
    /// is about <c>se / sqrt(2 df)</c>).
    /// </summary>
    public static ExcessUncertainty WithT(double excess, double se, double df, double level, string source, string covers)
    {
        double q = StudentT.Quantile((1 + level) / 2, df);
        return new(excess, se, df, level, q, double.IsPositiveInfinity(df) ? 0 : q * se / Math.Sqrt(2 * df), source, covers);
    }

    /// <summary>
    /// The excess over fresh target draws: <paramref name="drawExcesses"/> are the excesses of K emulated
    /// fresh draws (each probe and null refitted on the same new targets, scored on the same test points),
    /// <paramref name="testVariance"/> the variance the test points add for fixed fits. Standard error
    /// <c>sqrt(s_draws^2 + v_test)</c>, Welch-Satterthwaite degrees of freedom with the test points' part known:
    /// <c>se^4 / (s_draws^4 / (K - 1))</c>.
    /// </summary>
    public static ExcessUncertainty OverDraws(double excess, IReadOnlyList<double> drawExcesses, double testVariance, double level, string covers)
    {
        if (drawExcesses.Count < 2) throw new ArgumentException("The spread over draws needs at least two draws.", nameof(drawExcesses));
        double s2 = Math.Pow(SampleStatistics.Sd(drawExcesses), 2), v = s2 + testVariance;
        double df = s2 > 0 ? v * v / (s2 * s2 / (drawExcesses.Count - 1)) : double.PositiveInfinity;
        return WithT(excess, Math.Sqrt(v), df, level, FreshDraws, covers);
    }

    /// <summary>
    /// A first-pass results.json: the recorded normal interval <c>excess -/+ z se</c> from <paramref name="resamples"/>
    /// bootstrap refits, read back as it was built (normal quantile), its ends' Monte-Carlo error from the resamples.
    /// </summary>
    public static ExcessUncertainty FromFirstPass(double excess, ConfidenceInterval recorded, int resamples, string covers)
    {
        double z = LeakageStatistics.NormalQuantile((1 + recorded.Level) / 2);
        double se = recorded.Width / (2 * z);
        return new(excess, se, double.PositiveInfinity, recorded.Level, z, resamples > 1 ? z * se / Math.Sqrt(2.0 * (resamples - 1)) : 0, FirstPass, covers);
    }

    /// <summary>Variance of a paired accuracy difference over the test points: var(d) / m for d in {-1, 0, 1}, from the discordant counts.</summary>
    public static double TestPointVariance(int firstOnly, int secondOnly, int points)
    {
        double m = points, mean = (firstOnly - secondOnly) / m, second = (firstOnly + secondOnly) / m;
        return points > 1 ? Math.Max(0, second - mean * mean) / (m - 1) : 0; // sample variance of d, divided by m
    }
}
