namespace Leakage.Probes;

/// <summary>
/// Student's t distribution: distribution function, two-sided tail and quantile, for the excess
/// intervals and their p-values (<see cref="ExcessUncertainty"/>). Written out (the regularised
/// incomplete beta function by its continued fraction, Numerical Recipes 6.4) rather than taken from a
/// statistics package: the library has no statistics dependency and this is all it needs. Infinite
/// degrees of freedom give the standard normal.
/// </summary>
public static class StudentT
{
    /// <summary>P(|T| &gt;= |t|) for T ~ t(<paramref name="df"/>): the two-sided p-value of a t statistic.</summary>
    public static double TwoSidedP(double t, double df)
    {
        Check(df);
        if (double.IsNaN(t)) return double.NaN;
        if (double.IsInfinity(t)) return 0;
        if (double.IsPositiveInfinity(df) || df > 1e7) return Math.Min(1, 2 * NormalUpperTail(Math.Abs(t)));
        return Math.Min(1, IncompleteBeta(df / 2, 0.5, df / (df + t * t)));
    }

    /// <summary>P(T &lt;= t) for T ~ t(<paramref name="df"/>).</summary>
    public static double Cdf(double t, double df)
    {
        double tail = TwoSidedP(t, df) / 2;
        return t >= 0 ? 1 - tail : tail;
    }

    /// <summary>The quantile of t(<paramref name="df"/>) at <paramref name="p"/> in (0, 1), by bisection on <see cref="Cdf"/> (to 1e-12).</summary>
    public static double Quantile(double p, double df)
    {
        if (!(p > 0 && p < 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "A quantile level must lie in (0, 1).");
        Check(df);
        if (p < 0.5) return -Quantile(1 - p, df);
        double lo = 0, hi = 1;
        while (Cdf(hi, df) < p) { lo = hi; hi *= 2; if (hi > 1e12) return hi; }
        for (int i = 0; i < 200 && hi - lo > 1e-12 * Math.Max(1, hi); i++)
        {
            double mid = (lo + hi) / 2;
            if (Cdf(mid, df) < p) lo = mid; else hi = mid;
        }
        return (lo + hi) / 2;
    }

    static void Check(double df)
    {
        if (!(df > 0)) throw new ArgumentOutOfRangeException(nameof(df), df, "Degrees of freedom must be > 0.");
    }

    /// <summary>P(Z &gt;= z) for a standard normal Z, from the complementary error function.</summary>
    static double NormalUpperTail(double z) => 0.5 * Erfc(z / Math.Sqrt(2));

    /// <summary>erfc by the Chebyshev fit of Numerical Recipes 6.2 (relative error below 1.2e-7).</summary>
    static double Erfc(double x)
    {
        double z = Math.Abs(x), t = 1 / (1 + 0.5 * z);
        double r = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807
            + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? r : 2 - r;
    }

    /// <summary>The regularised incomplete beta function I_x(a, b).</summary>
    internal static double IncompleteBeta(double a, double b, double x)
    {
        if (x <= 0) return 0;
        if (x >= 1) return 1;
        double front = Math.Exp(LogGamma(a + b) - LogGamma(a) - LogGamma(b) + a * Math.Log(x) + b * Math.Log(1 - x));
        return x < (a + 1) / (a + b + 2)
            ? front * BetaContinuedFraction(a, b, x) / a
            : 1 - front * BetaContinuedFraction(b, a, 1 - x) / b;
    }

    /// <summary>The continued fraction of I_x(a, b) by the modified Lentz method.</summary>
    static double BetaContinuedFraction(double a, double b, double x)
    {
        const double tiny = 1e-300, eps = 1e-15;
        double qab = a + b, qap = a + 1, qam = a - 1, c = 1, d = 1 - qab * x / qap;
        if (Math.Abs(d) < tiny) d = tiny;
        d = 1 / d;
        double h = d;
        for (int m = 1; m <= 10_000; m++)
        {
            int m2 = 2 * m;
            double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
            d = 1 + aa * d; if (Math.Abs(d) < tiny) d = tiny;
            c = 1 + aa / c; if (Math.Abs(c) < tiny) c = tiny;
            d = 1 / d; h *= d * c;
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
            d = 1 + aa * d; if (Math.Abs(d) < tiny) d = tiny;
            c = 1 + aa / c; if (Math.Abs(c) < tiny) c = tiny;
            d = 1 / d;
            double del = d * c;
            h *= del;
            if (Math.Abs(del - 1) < eps) break;
        }
        return h;
    }

    /// <summary>log Gamma(x) for x &gt; 0 (Lanczos, g = 7, nine coefficients; relative error about 1e-15).</summary>
    public static double LogGamma(double x)
    {
        if (x < 0.5) return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x);
        ReadOnlySpan<double> g =
        [
            0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
            12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
        ];
        x -= 1;
        double s = g[0];
        for (int i = 1; i < 9; i++) s += g[i] / (x + i);
        double t = x + 7.5;
        return 0.5 * Math.Log(2 * Math.PI) + (x + 0.5) * Math.Log(t) - t + Math.Log(s);
    }
}
