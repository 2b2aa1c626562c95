using System.Globalization;
using Leakage.Probes;

namespace Leakage.Interactive;

/// <summary>
/// A notebook check failed: a number left its valid range or two results that must agree did not.
/// The message names the quantity, its value and what was expected.
/// </summary>
public sealed class NotebookCheckException(string message) : InvalidOperationException(message);

/// <summary>
/// One-line checks for notebook cells, so that every cell doubles as a test: each returns the value
/// it checked (to use inline) or throws <see cref="NotebookCheckException"/> with a message that says
/// what is wrong.
/// </summary>
public static class Check
{
    /// <summary>Throws with <paramref name="message"/> unless <paramref name="condition"/> holds.</summary>
    public static void That(bool condition, string message)
    {
        if (!condition) throw new NotebookCheckException(message);
    }

    /// <summary><paramref name="value"/> is finite and in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static double InRange(string what, double value, double min, double max)
    {
        if (!double.IsFinite(value) || value < min || value > max)
            throw new NotebookCheckException($"{what} = {F(value)} is outside its valid range [{F(min)}, {F(max)}].");
        return value;
    }

    /// <summary><paramref name="value"/> is a share or accuracy: finite and in [0, 1].</summary>
    public static double Fraction(string what, double value) => InRange(what, value, 0, 1);

    /// <summary><paramref name="value"/> is at most <paramref name="limit"/> (and finite).</summary>
    public static double AtMost(string what, double value, double limit)
    {
        if (!double.IsFinite(value) || value > limit)
            throw new NotebookCheckException($"{what} = {F(value)} exceeds its bound {F(limit)}.");
        return value;
    }

    /// <summary><paramref name="actual"/> equals <paramref name="expected"/> within <paramref name="tolerance"/> (absolute).</summary>
    public static double Close(string what, double actual, double expected, double tolerance)
    {
        if (!(Math.Abs(actual - expected) <= tolerance))
            throw new NotebookCheckException($"{what} = {F(actual)} but {F(expected)} was expected (tolerance {F(tolerance)}).");
        return actual;
    }

    /// <summary>Two counts or values that must be equal are.</summary>
    public static T Equal<T>(string what, T actual, T expected)
    {
        if (!EqualityComparer<T>.Default.Equals(actual, expected))
            throw new NotebookCheckException($"{what} = {actual} but {expected} was expected.");
        return actual;
    }

    /// <summary>
    /// A probe entry is sound: its accuracy is a share inside its interval, it was fitted on
    /// <paramref name="trainImages"/> images and scored on <paramref name="testPoints"/> test points.
    /// </summary>
    public static ProbeEntry Entry(ProbeEntry e, long trainImages, long testPoints)
    {
        ArgumentNullException.ThrowIfNull(e);
        Interval(e);
        Equal($"{e.Name}: training images", (long)e.NTrain, trainImages);
        Equal($"{e.Name}: test points", (long)e.NTest, testPoints);
        return e;
    }

    /// <summary>A probe entry's accuracy is a share and lies inside its interval.</summary>
    public static ProbeEntry Interval(ProbeEntry e)
    {
        ArgumentNullException.ThrowIfNull(e);
        Fraction($"{e.Name}: accuracy", e.Accuracy);
        That(e.Lo <= e.Accuracy && e.Accuracy <= e.Hi, $"{e.Name}: the interval [{e.Lo}, {e.Hi}] does not contain the accuracy {e.Accuracy}.");
        return e;
    }

    static string F(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
}
