using Leakage.Attacks;
using Leakage.Robust;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Tests;

/// <summary>
/// The exact relations between C's numbers that notebook 05 shows, asserted with the tolerances its
/// cells used to check them with (1e-9 for γ, 1e-12 for Spec 2 and the accuracy bounds): on a
/// robust linear classifier trained as the robust step trains it (certified training, in normalised
/// and in pixel units) and on the nearest-mean classifier, certified in both units at several radii.
/// </summary>
public class CertificateRelationsTests
{
    /// <summary>Trains C on CIFAR-shaped blobs (3 x 32 x 32, so both units apply) and certifies it on held-out blobs.</summary>
    static CertificateReport TrainedReport(RadiusUnits units, double eps)
    {
        var means = RobustTestData.Means(10, seed: 3);
        var (trainX, trainY) = RobustTestData.Blobs(means, 600, spread: 0.3, seed: 31);
        var (testX, testY) = RobustTestData.Blobs(means, 300, spread: 0.3, seed: 32);
        using var c = RobustLinearTrainer.Train(trainX, trainY, new RobustLinearOptions
        {
            Units = units, TrainRadius = 0.25, CertifyRadius = 0.25, Epochs = 6, WarmupEpochs = 2, BatchSize = 100,
            LearningRate = 1e-2, WeightDecay = 0.01, Seed = 5,
        });
        Assert.True(c.Certify(testX, testY).Pixel.CleanAccuracy > 0.5, "C learned nothing; the relations below would be checked on a trivial model");
        return Certificates.Certify(c.Model, testX, testY, eps);
    }

    static CertificateReport NearestMeanReport(double eps)
    {
        var means = RobustTestData.Means(10, seed: 1);
        var (x, y) = RobustTestData.Blobs(means, 300, spread: 0.35, seed: 101);
        using var c = RobustTestData.NearestMean(means);
        return Certificates.Certify(c, x, y, eps);
    }

    public static TheoryData<string, double> Cases => new()
    {
        { "trained in normalised units", 0.25 },
        { "trained in normalised units", 1.0 },
        { "trained in pixel units", 0.25 },
        { "trained in pixel units", 0.05 },
        { "nearest mean", 0.25 },
        { "nearest mean", 2.0 },
    };

    static CertificateReport Report(string model, double eps) => model switch
    {
        "trained in normalised units" => TrainedReport(RadiusUnits.Normalised, eps),
        "trained in pixel units" => TrainedReport(RadiusUnits.Pixel, eps),
        "nearest mean" => NearestMeanReport(eps),
        _ => throw new ArgumentOutOfRangeException(nameof(model), model, null),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gamma_is_rho_less_the_radius_times_the_dual_norm_over_the_feature_scale_in_both_units(string model, double eps)
    {
        using var scope = NewDisposeScope();
        var report = Report(model, eps);
        foreach (var cert in new[] { report.Pixel, report.Normalised })
        {
            Assert.Equal(eps, cert.Radius);
            Assert.Equal(10, cert.Features.Count);
            foreach (var f in cert.Features)
            {
                var where = $"{model}, feature {f.Class}, {cert.Units} units, eps {eps}";
                // |rho| <= 1: Cauchy-Schwarz on a feature normalised to mean 0 and variance 1.
                Assert.True(double.IsFinite(f.Rho) && f.Rho >= -1 - 1e-9 && f.Rho <= 1 + 1e-9, $"rho of {where} = {f.Rho}");
                Assert.True(Math.Abs(f.Gamma - (f.Rho - cert.Radius * f.DualNorm / f.StdDev)) <= 1e-9,
                    $"gamma of {where} = {f.Gamma}, rho - eps d / sd = {f.Rho - cert.Radius * f.DualNorm / f.StdDev}");
                Assert.True(double.IsFinite(f.Gamma) && f.Gamma <= f.Rho, $"gamma of {where} = {f.Gamma} exceeds rho = {f.Rho}");
            }
        }
        // The units change the ball, not the feature: the same rho in both.
        for (int i = 0; i < 10; i++)
            Assert.True(Math.Abs(report.Pixel.Features[i].Rho - report.Normalised.Features[i].Rho) <= 1e-12,
                $"{model}: rho of feature {i} is {report.Pixel.Features[i].Rho} in pixel and {report.Normalised.Features[i].Rho} in normalised units");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Spec2_comes_from_the_stored_radii_and_bounds_certified_accuracy_with_clean_accuracy(string model, double eps)
    {
        using var scope = NewDisposeScope();
        var report = Report(model, eps);
        foreach (var c in new[] { report.Pixel, report.Normalised })
        {
            var u = $"{model}, {c.Units} units, eps {eps}";
            Assert.True(Math.Abs(c.Spec2At(c.Radius) - c.Spec2Fraction) <= 1e-12, $"Spec 2 from the stored radii ({u}): {c.Spec2At(c.Radius)} vs {c.Spec2Fraction}");
            Assert.True(double.IsFinite(c.CertifiedAccuracy) && c.CertifiedAccuracy <= Math.Min(c.CleanAccuracy, c.Spec2Fraction) + 1e-12,
                $"certified accuracy ({u}) = {c.CertifiedAccuracy} exceeds min(clean {c.CleanAccuracy}, Spec 2 {c.Spec2Fraction})");
            Assert.True(c.CertifiedAccuracy >= c.CleanAccuracy + c.Spec2Fraction - 1 - 1e-12, $"certified accuracy ({u}) is below clean + Spec 2 - 1.");
            Assert.All(c.CertifiedRadii, r => Assert.True(r >= 0, $"a certified radius ({u}) is negative: {r}"));
        }
        Assert.Equal(report.Pixel.CleanAccuracy, report.Normalised.CleanAccuracy);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_points_pixel_radius_lies_between_the_smallest_and_largest_channel_std_times_its_normalised_radius(string model, double eps)
    {
        using var scope = NewDisposeScope();
        var report = Report(model, eps);
        var (pixel, normalised) = (report.Pixel, report.Normalised);
        Assert.Equal(pixel.Count, normalised.Count);
        double sMin = CifarNormalisation.Std.Min(), sMax = CifarNormalisation.Std.Max();
        for (int i = 0; i < pixel.Count; i++)
        {
            double rp = pixel.CertifiedRadii[i], rn = normalised.CertifiedRadii[i];
            if (double.IsInfinity(rp) || double.IsInfinity(rn))
            {
                Assert.True(double.IsInfinity(rp) && double.IsInfinity(rn), $"{model}, test point {i}: certified radius infinite in one unit only.");
                continue;
            }
            double lo = sMin * rn * (1 - 1e-6) - 1e-12, hi = sMax * rn * (1 + 1e-6) + 1e-12;
            Assert.True(double.IsFinite(rp) && rp >= lo && rp <= hi, $"{model}, test point {i}: pixel radius {rp} outside [{lo}, {hi}] (normalised radius {rn}).");
        }
    }
}
