using Leakage.Data;
using Leakage.Experiment;
using Leakage.Robust;

namespace Leakage.Interactive;

/// <summary>Tables of the robust linear classifier C and its certificates (notebook 05).</summary>
public static class RobustViews
{
    /// <summary>C's accuracy, Spec 2, certified accuracy and median certified radius in both units.</summary>
    public static Html Summary(RobustOutcome robust)
    {
        ArgumentNullException.ThrowIfNull(robust);
        var (primary, other) = (robust.Primary, robust.Other);
        string p = primary.Units.Label(), o = other.Units.Label();
        return Tables.KeyValue(
        [
            ("model", robust.Training.Describe()),
            ("clean test accuracy", $"{primary.CleanAccuracy:P2}"),
            ($"Spec 2 at {primary.Radius} ({p} units, trained)", $"{primary.Spec2Fraction:P2} of test points certified"),
            ($"Spec 2 at {other.Radius} ({o} units)", $"{other.Spec2Fraction:P2}"),
            ("certified accuracy", $"{primary.CertifiedAccuracy:P2} ({p}), {other.CertifiedAccuracy:P2} ({o})"),
            ("median certified radius", $"{primary.MedianCertifiedRadius:0.###} ({p}), {other.MedianCertifiedRadius:0.###} ({o})"),
        ], "Robust linear classifier C");
    }

    /// <summary>ρ and γ of the ten features in both units beside Goh's γ.</summary>
    public static Html Gamma(RobustOutcome robust)
    {
        ArgumentNullException.ThrowIfNull(robust);
        var (pixel, normalised) = (robust.Certificates.Pixel, robust.Certificates.Normalised);
        return Tables.ToHtml(Enumerable.Range(0, Cifar10.Classes).Select(i => new
        {
            Class = i,
            Name = Cifar10.ClassNames[i],
            Rho = normalised.Features[i].Rho,
            GammaNormalised = normalised.Features[i].Gamma,
            GammaPixel = pixel.Features[i].Gamma,
            Goh = Published.GohGamma[i],
        }), $"Usefulness ρ and robust usefulness γ at radius {robust.Primary.Radius}; C trained in {robust.Primary.Units.Label()} units", significantDigits: 3);
    }

    /// <summary>Spec 1 and Spec 2 of C in both units (the trained units marked).</summary>
    public static Html Specs(RobustOutcome robust)
    {
        ArgumentNullException.ThrowIfNull(robust);
        return Tables.ToHtml(new[] { robust.Certificates.Normalised, robust.Certificates.Pixel }.Select(c => new
        {
            Units = c.Units.Label() + (c.Units == robust.Primary.Units ? " (trained)" : ""),
            Radius = c.Radius,
            GammaAtLeast0 = $"{c.Features.Count(f => f.Gamma >= 0)} of 10",
            Spec1 = c.Spec1 ? "holds" : "fails",
            Spec2Percent = 100 * c.Spec2Fraction,
            Spec2 = c.Spec2Fraction >= Published.Spec2Minimum.Value ? "holds" : "fails",
            CleanPercent = 100 * c.CleanAccuracy,
            CertifiedPercent = 100 * c.CertifiedAccuracy,
        }));
    }

    /// <summary>How many certified predictions PGD attacked and changed (none may be), and how many changed just beyond their radius.</summary>
    public static Html AttackSummary(IReadOnlyList<CertificateAttack> attacks, UnitCertificate primary)
    {
        ArgumentNullException.ThrowIfNull(attacks);
        ArgumentNullException.ThrowIfNull(primary);
        return Tables.KeyValue(
        [
            ("certified points attacked", $"{attacks.Count(a => a.Certified)} of {attacks.Count}"),
            ("certified predictions changed by PGD at ε", $"{attacks.Count(a => a.BeatsCertificate)} (checked)"),
            ("predictions changed just beyond r(x)", $"{attacks.Count(a => a.FlippedBeyond)} of {attacks.Count(a => double.IsFinite(a.BeyondRadius))}"),
        ], $"PGD against the certificate (ε = {primary.Radius}, {primary.Units.Label()} units)");
    }

    /// <summary>One row per attacked test point (<paramref name="points"/>: the test index of each attacked point).</summary>
    public static Html AttackTable(IReadOnlyList<CertificateAttack> attacks, IReadOnlyList<long> points)
    {
        ArgumentNullException.ThrowIfNull(attacks);
        ArgumentNullException.ThrowIfNull(points);
        return Tables.ToHtml(attacks.Select(a => new
        {
            Point = points[a.Index],
            Label = Cifar10.ClassNames[(int)a.Label],
            Prediction = Cifar10.ClassNames[(int)a.Prediction],
            CertifiedRadius = a.CertifiedRadius,
            Certified = a.Certified,
            PerturbationNorm = a.Norm,
            ChangedAtEps = a.Flipped,
            BeyondRadius = a.BeyondRadius,
            ChangedBeyond = a.FlippedBeyond,
        }));
    }
}
