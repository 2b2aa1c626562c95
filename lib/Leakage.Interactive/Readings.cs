using Leakage.Attacks;
using System.Globalization;
using Leakage.Probes;
using Leakage.Robust;

namespace Leakage.Interactive;

/// <summary>
/// How the notebooks word a probe result: an accuracy with its interval, a verdict against a
/// reference value or against a matched null, an excess in percentage points. One wording for all
/// notebooks and tables.
/// </summary>
public static class Readings
{
    /// <summary>The verdict words of a comparison.</summary>
    public const string Above = "above", Below = "below", NotDistinguishable = "not distinguishable from";

    /// <summary>"19.8% [19.0%, 20.6%]": the accuracy and its 95% interval.</summary>
    public static string Show(this ProbeEntry e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return string.Create(CultureInfo.InvariantCulture, $"{e.Accuracy:P1} [{e.Lo:P1}, {e.Hi:P1}]");
    }

    /// <summary>
    /// The probe against a fixed value (e.g. chance, 0.1): above or below when its interval lies
    /// entirely on one side, else not distinguishable.
    /// </summary>
    public static string Against(this ProbeEntry e, double reference)
    {
        ArgumentNullException.ThrowIfNull(e);
        return e.Lo > reference ? Above : e.Hi < reference ? Below : NotDistinguishable;
    }

    /// <summary>
    /// The probe against its matched null, from <see cref="LeakageComparison.Verdict"/> (the excess's
    /// interval with its own variance, undecided when it touches zero within its Monte-Carlo error),
    /// never from overlapping intervals nor from McNemar alone: above, below, or not distinguishable.
    /// </summary>
    public static string AgainstNull(this LeakageComparison c)
    {
        ArgumentNullException.ThrowIfNull(c);
        return c.Verdict switch { ExcessUncertainty.Above => Above, ExcessUncertainty.Below => Below, _ => NotDistinguishable };
    }

    /// <summary>The same verdict for a paired comparison of test points only (no training-image interval).</summary>
    public static string AgainstNull(this PairedComparison c)
    {
        ArgumentNullException.ThrowIfNull(c);
        return AboveNull(c) ? Above : c.PValue < 0.05 && c.Interval.Hi < 0 ? Below : NotDistinguishable;
    }

    /// <summary>Above its null on test points: McNemar rejects with a positive difference and the paired interval lies above zero.</summary>
    public static bool AboveNull(this PairedComparison c)
    {
        ArgumentNullException.ThrowIfNull(c);
        return c.FirstAbove() && c.Interval.Lo > 0;
    }

    /// <summary>
    /// "+5.2 points [+2.8, +7.6] (what the interval covers), p = 0.0003, above; McNemar p = 5.7E-65 (test
    /// points only, fits fixed)": the p-value from the interval's own variance first, McNemar after it.
    /// </summary>
    public static string Excess(this LeakageComparison c)
    {
        ArgumentNullException.ThrowIfNull(c);
        return string.Create(CultureInfo.InvariantCulture,
            $"{100 * c.Excess:+0.0;-0.0} points [{100 * c.ExcessInterval.Lo:+0.0;-0.0}, {100 * c.ExcessInterval.Hi:+0.0;-0.0}] ({c.IntervalCovers}), " +
            $"p = {c.PValue:G2}, {c.Verdict}; McNemar p = {c.McNemarP:G2} (test points only, fits fixed)");
    }

    /// <summary>"+0.123 sd [+0.118, +0.128]": a feature shift, or "not recorded" for a run that did not measure it.</summary>
    public static string Show(this FeatureShift? s) => s is null ? "not recorded"
        : string.Create(CultureInfo.InvariantCulture, $"{s.Mean:+0.000;-0.000} sd [{s.Lower:+0.000;-0.000}, {s.Upper:+0.000;-0.000}]");

    /// <summary>A share as a percentage with one decimal, or "not run" when the step has not recorded it.</summary>
    public static string Percent(double? share) =>
        share is { } v ? v.ToString("P1", CultureInfo.InvariantCulture) : "not run";

    /// <summary>The name of a radius unit as the notebooks write it: "pixel" or "normalised".</summary>
    public static string Label(this RadiusUnits units) => units == RadiusUnits.Pixel ? "pixel" : "normalised";
}
