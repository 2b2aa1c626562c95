using Leakage.Attacks;
using Leakage.Experiment;
using Leakage.Robust;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Tests;

/// <summary>Perturbation sizes, proportion intervals and the certificate checks the notebooks show.</summary>
public class ExperimentMeasuresTests
{
    [Fact]
    public void Perturbation_norms_are_the_l2_distances_of_each_image()
    {
        using var scope = NewDisposeScope();
        var original = zeros(3, 3, 32, 32);
        var adversarial = original.clone();
        adversarial[0, 0, 0, 0] = tensor(0.3f);
        adversarial[0, 1, 5, 7] = tensor(0.4f);   // 0.3-0.4-0.5 triangle
        adversarial[2] = full(3, 32, 32, 0.01f);  // sqrt(3072) * 0.01
        var norms = Perturbations.L2Norms(original, adversarial, chunk: 2); // chunks of 2 and 1
        Assert.Equal(0.5, norms[0], 6);
        Assert.Equal(0.0, norms[1]);
        Assert.Equal(Math.Sqrt(3072) * 0.01, norms[2], 5);
    }

    [Fact]
    public void Perturbation_norms_refuse_batches_of_different_shapes()
    {
        using var scope = NewDisposeScope();
        var e = Assert.Throws<ArgumentException>(() => Perturbations.L2Norms(zeros(2, 3, 32, 32), zeros(3, 3, 32, 32)));
        Assert.Contains("shapes differ", e.Message);
    }

    [Fact]
    public void A_summary_counts_perturbations_on_the_boundary_and_unchanged_images()
    {
        var s = Perturbations.Summarize([0, 0.2, 0.496, 0.5, 0.5], eps: 0.5);
        Assert.Equal(5, s.Count);
        Assert.Equal(0, s.Min);
        Assert.Equal(0.496, s.Median);
        Assert.Equal(0.3392, s.Mean, 12);
        Assert.Equal(0.5, s.Max);
        Assert.Equal(0.6, s.AtBoundary, 12);    // 0.496, 0.5, 0.5 are >= 0.495
        Assert.Equal(0.2, s.Unchanged, 12);
        Assert.True(s.WithinBall);
        Assert.False(Perturbations.Summarize([0.2, 0.51], eps: 0.5).WithinBall);
        Assert.True(Perturbations.Summarize([0.50001], eps: 0.5).WithinBall); // float32 rounding tolerated
    }

    [Theory]
    // Roots of (p̂ - p)² = z² p (1 - p) / n, solved independently; 0/10 has the closed form z² / (n + z²).
    [InlineData(0, 10, 0.0, 0.27753279986289)]
    [InlineData(5, 10, 0.23659309051256, 0.76340690948744)]
    [InlineData(10, 10, 0.72246720013711, 1.0)]
    [InlineData(81, 1000, 0.06564962154120, 0.09955720206969)]
    public void Wilson_intervals_are_the_roots_of_the_score_equation(long successes, long n, double lo, double hi)
    {
        var (l, h) = Proportions.Wilson(successes, n);
        Assert.Equal(lo, l, 9);
        Assert.Equal(hi, h, 9);
        double p = (double)successes / n;
        Assert.InRange(p, l, h);
        Assert.Equal((l, h), Proportions.WilsonForShare(p, n));
    }

    [Fact]
    public void Wilson_intervals_refuse_impossible_counts()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Proportions.Wilson(11, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => Proportions.Wilson(0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Proportions.WilsonForShare(1.2, 10));
    }

    [Fact]
    public void The_expected_band_is_five_standard_errors_around_the_rate_and_holds_random_draws()
    {
        var (lo, hi) = Proportions.ExpectedBand(0.1, 400);
        Assert.Equal(0.1 - 5 * 0.015, lo, 12);
        Assert.Equal(0.1 + 5 * 0.015, hi, 12);
        // The share of random labels (uniform over 10) that equal a fixed label lies in the band.
        using var g = new Generator(3);
        using var targets = randint(0, 10, [400], generator: g);
        using var labels = arange(400) % 10;
        using var same = targets.eq(labels).to(ScalarType.Float64).mean();
        Assert.InRange(same.item<double>(), lo, hi);
    }

    static (Tensor X, Tensor Y, LinearClassifier C) Classifier(int n = 300, int seed = 1)
    {
        var means = RobustTestData.Means(10, seed);
        var (x, y) = RobustTestData.Blobs(means, n, 0.25, seed + 100);
        return (x.to(ScalarType.Float32), y, RobustTestData.NearestMean(means));
    }

    [Theory]
    [InlineData(RadiusUnits.Pixel, 0.25)]
    [InlineData(RadiusUnits.Normalised, 0.25)]
    public void The_certified_curve_equals_the_certificate_at_its_radius_and_never_rises(RadiusUnits units, double eps)
    {
        using var scope = NewDisposeScope();
        var (x, y, c) = Classifier();
        var geometry = RadiusGeometry.For(units);
        var certificate = Certificates.Certify(c, x, y, eps, geometry);
        var radii = CertificateChecks.Grid(4 * eps, 21).Append(eps).Distinct().Order().ToList();
        var curve = CertificateChecks.Curve(certificate, c, x, y, radii);

        var at = curve.Single(p => p.Radius == eps);
        Assert.Equal(certificate.Spec2Fraction, at.Spec2Fraction, 12);
        Assert.Equal(certificate.CertifiedAccuracy, at.CertifiedAccuracy, 12);
        Assert.Equal(certificate.CleanAccuracy, curve[0].CertifiedAccuracy, 2); // at 0 only exact ties are uncertified
        for (int i = 1; i < curve.Count; i++)
        {
            Assert.True(curve[i].Spec2Fraction <= curve[i - 1].Spec2Fraction);
            Assert.True(curve[i].CertifiedAccuracy <= curve[i - 1].CertifiedAccuracy);
            Assert.True(curve[i].CertifiedAccuracy <= curve[i].Spec2Fraction);
            Assert.Equal(certificate.Spec2At(curve[i].Radius), curve[i].Spec2Fraction, 12);
        }
    }

    [Fact]
    public void The_certified_curve_refuses_points_the_certificate_was_not_made_on()
    {
        using var scope = NewDisposeScope();
        var (x, y, c) = Classifier();
        var certificate = Certificates.Certify(c, x, y, 0.25, RadiusGeometry.Pixel());
        var e = Assert.Throws<ArgumentException>(() => CertificateChecks.Curve(certificate, c, x.narrow(0, 0, 10), y.narrow(0, 0, 10), [0.1]));
        Assert.Contains("300 points", e.Message);
    }

    [Theory]
    [InlineData(RadiusUnits.Pixel)]
    [InlineData(RadiusUnits.Normalised)]
    public void Pgd_never_changes_a_certified_prediction_and_mostly_does_just_beyond_the_certified_radius(RadiusUnits units)
    {
        using var scope = NewDisposeScope();
        var (x, y, c) = Classifier(n: 40);
        var geometry = RadiusGeometry.For(units);
        var radii = Certificates.CertifiedRadii(c, x, geometry).data<double>().ToArray();
        // A radius that certifies about half of the points, so both kinds are attacked.
        double eps = radii.Order().ElementAt(radii.Length / 2);
        var attacks = CertificateChecks.Attack(c, x, y, geometry, eps, steps: 40, restarts: 1, seed: 5);

        Assert.Equal(40, attacks.Count);
        Assert.Contains(attacks, a => a.Certified);
        Assert.Contains(attacks, a => !a.Certified);
        foreach (var a in attacks)
        {
            Assert.False(a.BeatsCertificate, $"point {a.Index}: certified radius {a.CertifiedRadius} > eps {eps}, yet PGD changed the prediction");
            Assert.True(a.Norm <= eps * (1 + 1e-5), $"point {a.Index}: perturbation {a.Norm} outside the ball {eps}");
            Assert.Equal(radii[a.Index], a.CertifiedRadius, 9);
        }
        // The certificate is tight up to the pixel box: beyond r(x) most predictions fall.
        Assert.True(attacks.Count(a => a.FlippedBeyond) >= 0.8 * attacks.Count, $"only {attacks.Count(a => a.FlippedBeyond)} of 40 flipped beyond r(x)");
        // Uncertified points within eps are at least sometimes flipped (the attack is not idle).
        Assert.Contains(attacks, a => !a.Certified && a.Flipped);
    }
}
