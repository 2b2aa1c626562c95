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
    /// The probe against its matched null, decided by the paired test (McNemar on the same test
    /// points) and the excess interval, never by overlapping intervals: above when
    /// <see cref="LeakageComparison.Above"/>, below when McNemar rejects and the excess interval lies
    /// below zero.
    /// </summary>
    public static string AgainstNull(this LeakageComparison c)
    {
        ArgumentNullException.ThrowIfNull(c);
        return c.Above() ? Above : c.PValue < 0.05 && c.ExcessInterval.Hi < 0 ? Below : NotDistinguishable;
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

    /// <summary>"+5.7 points [+4.0, +7.4] (what the interval resamples), McNemar p = 1.2E-75".</summary>
    public static string Excess(this LeakageComparison c)
    {
        ArgumentNullException.ThrowIfNull(c);
        return string.Create(CultureInfo.InvariantCulture,
            $"{100 * c.Excess:+0.0;-0.0} points [{100 * c.ExcessInterval.Lo:+0.0;-0.0}, {100 * c.ExcessInterval.Hi:+0.0;-0.0}] ({c.IntervalCovers}), McNemar p = {c.PValue:G2}");
    }

    /// <summary>A share as a percentage with one decimal, or "not run" when the step has not recorded it.</summary>
    public static string Percent(double? share) =>
        share is { } v ? v.ToString("P1", CultureInfo.InvariantCulture) : "not run";

    /// <summary>The name of a radius unit as the notebooks write it: "pixel" or "normalised".</summary>
    public static string Label(this RadiusUnits units) => units == RadiusUnits.Pixel ? "pixel" : "normalised";
}
