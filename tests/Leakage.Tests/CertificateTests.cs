using Leakage.Attacks;
using Leakage.Robust;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Tests;

public class CertificateTests
{
    const int Classes = 10;

    /// <summary>Synthetic test set and a linear classifier with weights as float64 for exact checks.</summary>
    static (Tensor X, Tensor Y, LinearClassifier C, Tensor W, Tensor B) Setup(int n = 300, double spread = 0.25, int seed = 1)
    {
        var means = RobustTestData.Means(Classes, seed);
        var (x, y) = RobustTestData.Blobs(means, n, spread, seed + 100);
        var c = RobustTestData.NearestMean(means);
        return (x, y, c, c.weight.detach().to(ScalarType.Float64), c.bias.detach().to(ScalarType.Float64));
    }

    static RadiusGeometry Geometry(RadiusUnits units) => RadiusGeometry.For(units);

    [Theory]
    [InlineData(RadiusUnits.Pixel, 0.25)]
    [InlineData(RadiusUnits.Normalised, 0.25)]
    [InlineData(RadiusUnits.Pixel, 1.0)]
    public void Closed_form_gamma_equals_the_mean_at_the_exact_worst_case_perturbation(RadiusUnits units, double eps)
    {
        using var scope = NewDisposeScope();
        var (x, y, c, w, _) = Setup();
        var geometry = Geometry(units);
        var features = Certificates.Certify(c, x, y, eps, geometry).Features;

        var flat = RobustTestData.Flat(x);
        var f = flat.matmul(w.t());
        var mu = f.mean([0L]);
        var sd = (f - mu).square().mean([0L]).sqrt();
        for (int i = 0; i < Classes; i++)
        {
            var sign = torch.where(y.eq(i), 1.0, -1.0).to(ScalarType.Float64).unsqueeze(1);
            var direction = geometry.WorstCaseDirection(w[i]);
            Assert.Equal(1.0, geometry.PerturbationNorm(direction).item<double>(), 12);
            // Each point moves by eps against its own label: y = +1 points down, y = -1 points up.
            var perturbed = flat - sign * eps * direction.unsqueeze(0);
            var worst = (sign.squeeze(1) * ((perturbed.matmul(w[i]) - mu[i]) / sd[i])).mean().item<double>();
            var clean = (sign.squeeze(1) * ((f.select(1, i) - mu[i]) / sd[i])).mean().item<double>();
            Assert.Equal(worst, features[i].Gamma, 1e-4);
            Assert.Equal(clean, features[i].Rho, 1e-6);
            Assert.Equal(mu[i].item<double>(), features[i].Mean, 1e-6);
            Assert.Equal(sd[i].item<double>(), features[i].StdDev, 1e-6);
        }
    }

    [Theory]
    [InlineData(RadiusUnits.Pixel)]
    [InlineData(RadiusUnits.Normalised)]
    public void Pgd_on_a_feature_never_goes_below_the_closed_form_gamma_and_reaches_it(RadiusUnits units)
    {
        using var scope = NewDisposeScope();
        const double eps = 0.5;
        var (x, y, c, w, _) = Setup(n: 200);
        var geometry = Geometry(units);
        var features = Certificates.Certify(c, x, y, eps, geometry).Features;
        var flat = RobustTestData.Flat(x);
        var g = new Generator(7);
        foreach (var i in new[] { 0, 3, 8 })
        {
            var mu = features[i].Mean; var sd = features[i].StdDev;
            var sign = torch.where(y.eq(i), 1.0, -1.0).to(ScalarType.Float64);
            // Minimise y f~(x + delta) per point: ascend -y f~, whose gradient in x is -y w / sd.
            var grad = -(sign.unsqueeze(1) * w[i].unsqueeze(0)) / sd;
            var step = (eps / 2) * geometry.AscentStep(grad);
            // Random start inside the ball, then 100 projected steps.
            var delta = geometry.Project(randn(flat.shape, dtype: ScalarType.Float64, generator: g) * 0.01, eps);
            for (int t = 0; t < 100; t++)
            {
                using var stepScope = NewDisposeScope();
                var next = geometry.Project(delta + step, eps).MoveToOuterDisposeScope();
                delta.Dispose();
                delta = next;
            }
            Assert.True(geometry.PerturbationNorm(delta).max().item<double>() <= eps * (1 + 1e-9));
            var attacked = (sign * ((flat + delta).matmul(w[i]) - mu) / sd).mean().item<double>();
            Assert.True(attacked >= features[i].Gamma - 1e-4, $"PGD went below the infimum: {attacked} < gamma {features[i].Gamma}");
            Assert.True(attacked <= features[i].Gamma + 1e-4, $"PGD did not reach the infimum: {attacked} vs gamma {features[i].Gamma}");
        }
    }

    [Theory]
    [InlineData(RadiusUnits.Pixel, false)]
    [InlineData(RadiusUnits.Pixel, true)]
    [InlineData(RadiusUnits.Normalised, false)]
    [InlineData(RadiusUnits.Normalised, true)]
    public void Certified_radius_is_never_beaten_by_pgd(RadiusUnits units, bool box)
    {
        using var scope = NewDisposeScope();
        var (x, _, c, _, _) = Setup(n: 300, spread: 0.35);
        var geometry = Geometry(units);
        var radii = Certificates.CertifiedRadii(c, x, geometry);
        var predicted = c.Predict(x);
        // Attack at the median certified radius, so that half the points are certified and half are not.
        var eps = radii.median().item<double>();
        var certified = radii.gt(eps);
        int nCertified = (int)certified.sum().item<long>();
        Assert.InRange(nCertified, 100, 200);

        var options = new LinearPgdOptions(eps, Steps: 30, Restarts: 2, Objective: PgdObjective.Margin, ClampToUnitBox: box, Seed: 3);
        var adversarial = LinearPgd.Attack(c, x, predicted, geometry, options);
        var moved = geometry.PerturbationNorm((adversarial - x).flatten(1).to(ScalarType.Float64));
        Assert.True(moved.max().item<double>() <= eps * (1 + 1e-5));
        var flipped = c.Predict(adversarial).ne(predicted);

        Assert.Equal(0, flipped.logical_and(certified).sum().item<long>());
        // The attack is not toothless: it flips most points that are not certified.
        var flippedUncertified = flipped.logical_and(certified.logical_not()).sum().item<long>();
        Assert.True(flippedUncertified >= (300 - nCertified) / 2, $"PGD flipped only {flippedUncertified} of {300 - nCertified} uncertified points");
    }

    [Theory]
    [InlineData(RadiusUnits.Pixel)]
    [InlineData(RadiusUnits.Normalised)]
    public void Certified_radius_is_tight_along_the_worst_direction(RadiusUnits units)
    {
        using var scope = NewDisposeScope();
        var (x, _, c, w, b) = Setup(n: 60, spread: 0.3);
        var geometry = Geometry(units);
        var radii = Certificates.CertifiedRadii(c, x, geometry).data<double>().ToArray();
        var flat = RobustTestData.Flat(x);
        var z = flat.matmul(w.t()) + b;
        var zs = z.data<double>().ToArray();
        for (int n = 0; n < flat.shape[0]; n++)
        {
            int cls = (int)z[n].argmax().item<long>();
            // Independent search for the closest class, with direct (not Gram) dual norms.
            int closest = -1; double best = double.PositiveInfinity;
            for (int j = 0; j < Classes; j++)
            {
                if (j == cls) continue;
                var ratio = (zs[n * Classes + cls] - zs[n * Classes + j]) / geometry.DualNorm(w[cls] - w[j]).item<double>();
                if (ratio < best) { best = ratio; closest = j; }
            }
            Assert.Equal(best, radii[n], 1e-6 * Math.Max(1, best));
            var direction = geometry.WorstCaseDirection(w[cls] - w[closest]);
            Tensor Logits(double t) => (flat[n] - t * direction).matmul(w.t()) + b;
            var beyond = Logits(radii[n] * (1 + 1e-3));
            var within = Logits(radii[n] * (1 - 1e-3));
            Assert.True(beyond[closest].item<double>() > beyond[cls].item<double>(), $"point {n}: a step of 1.001 r(x) did not flip {cls} to {closest}");
            Assert.Equal(cls, within.argmax().item<long>());
        }
    }

    [Fact]
    public void Normalised_certificate_equals_the_pixel_certificate_after_rescaling_the_data()
    {
        using var scope = NewDisposeScope();
        const double eps = 0.7;
        var (x, y, c, w, b) = Setup(n: 200, spread: 0.3);
        var normalised = Certificates.Certify(c, x, y, eps).Normalised;

        // Change of variables u = (x - m) / s: the model W x + b is W' u + b' with W' = W ⊙ s, b' = b + W m,
        // and the normalised ball ||delta ⊘ s|| <= eps is the pixel ball ||delta_u|| <= eps in u.
        var s = tensor(CifarNormalisation.PerCoordinate(CifarNormalisation.Std), dtype: ScalarType.Float64);
        var m = tensor(CifarNormalisation.PerCoordinate(CifarNormalisation.Mean), dtype: ScalarType.Float64);
        var u = (RobustTestData.Flat(x) - m) / s;
        using var rescaled = LinearClassifier.FromWeights(w * s, b + w.matmul(m));
        var pixel = Certificates.Certify(rescaled, u, y, eps, RadiusGeometry.Pixel());

        Assert.Equal(normalised.CleanAccuracy, pixel.CleanAccuracy);
        Assert.Equal(normalised.Spec2Fraction, pixel.Spec2Fraction);
        Assert.Equal(normalised.CertifiedAccuracy, pixel.CertifiedAccuracy);
        for (int i = 0; i < Classes; i++)
        {
            Assert.Equal(normalised.Features[i].Gamma, pixel.Features[i].Gamma, 1e-5);
            Assert.Equal(normalised.Features[i].Rho, pixel.Features[i].Rho, 1e-5);
            Assert.Equal(normalised.Features[i].DualNorm, pixel.Features[i].DualNorm, 1e-5);
        }
        for (int n = 0; n < normalised.Count; n++)
            Assert.Equal(normalised.CertifiedRadii[n], pixel.CertifiedRadii[n], 1e-4 * Math.Max(1, normalised.CertifiedRadii[n]));
    }

    [Fact]
    public void Spec2_fraction_never_increases_with_the_radius()
    {
        using var scope = NewDisposeScope();
        var (x, y, c, _, _) = Setup(n: 300, spread: 0.35);
        foreach (var units in new[] { RadiusUnits.Pixel, RadiusUnits.Normalised })
        {
            double previous = 1.0;
            foreach (var eps in Enumerable.Range(0, 21).Select(i => i * 0.1))
            {
                var cert = Certificates.Certify(c, x, y, eps)[units];
                Assert.True(cert.Spec2Fraction <= previous, $"{units}: Spec 2 rose from {previous} to {cert.Spec2Fraction} at eps {eps}");
                Assert.True(cert.CertifiedAccuracy <= Math.Min(cert.CleanAccuracy, cert.Spec2Fraction));
                Assert.Equal(cert.Spec2At(eps), cert.Spec2Fraction);
                previous = cert.Spec2Fraction;
            }
        }
    }

    [Fact]
    public void A_normalised_radius_is_a_smaller_ball_so_its_certificates_are_stronger()
    {
        using var scope = NewDisposeScope();
        // Every CIFAR std is below 1, so ||delta||_2 = ||s ⊙ d||_2 < ||d||_2 <= eps: the normalised ball of
        // radius eps sits inside the pixel ball of radius eps.
        var (x, y, c, _, _) = Setup(n: 300, spread: 0.35);
        var report = Certificates.Certify(c, x, y, 0.5);
        Assert.True(report.Normalised.Spec2Fraction >= report.Pixel.Spec2Fraction);
        Assert.True(report.Normalised.CertifiedAccuracy >= report.Pixel.CertifiedAccuracy);
        Assert.Equal(report.Pixel.CleanAccuracy, report.Normalised.CleanAccuracy);
        for (int i = 0; i < Classes; i++)
        {
            Assert.True(report.Normalised.Features[i].Gamma > report.Pixel.Features[i].Gamma);
            Assert.Equal(report.Pixel.Features[i].Rho, report.Normalised.Features[i].Rho);
        }
        for (int n = 0; n < report.Pixel.Count; n++)
            Assert.True(report.Normalised.CertifiedRadii[n] >= report.Pixel.CertifiedRadii[n]);
    }

    [Fact]
    public void Gamma_at_radius_zero_is_the_plain_usefulness_of_a_normalised_feature()
    {
        using var scope = NewDisposeScope();
        var (x, y, c, _, _) = Setup();
        var report = Certificates.Certify(c, x, y, 0.0);
        foreach (var f in report.Pixel.Features)
        {
            Assert.Equal(f.Rho, f.Gamma, 12);
            Assert.True(f.Rho > 0, $"the nearest-mean feature for class {f.Class} should be useful for it");
        }
        // With E[f~] = 0 and 10 balanced classes, E[y f~] = 0.2 E[f~ | class i] <= 0.2 sqrt(E[f~^2 | class i]) <= 0.2 sqrt(10).
        Assert.All(report.Pixel.Features, f => Assert.True(f.Rho <= 0.2 * Math.Sqrt(10)));
    }

    [Fact]
    public void Reference_set_sets_the_feature_normaliser()
    {
        using var scope = NewDisposeScope();
        var (x, y, c, w, _) = Setup(n: 200);
        var means = RobustTestData.Means(Classes, 1);
        var (reference, _) = RobustTestData.Blobs(means, 500, 0.25, 999);
        var cert = Certificates.Certify(c, x, y, 0.25, RadiusGeometry.Pixel(), reference);
        var f = RobustTestData.Flat(reference).matmul(w.t());
        var mu = f.mean([0L]).data<double>().ToArray();
        var sd = f.std(0, unbiased: false).data<double>().ToArray();
        for (int i = 0; i < Classes; i++)
        {
            Assert.Equal(mu[i], cert.Features[i].Mean, 1e-6);
            Assert.Equal(sd[i], cert.Features[i].StdDev, 1e-6);
        }
    }

    [Fact]
    public void Certify_rejects_inputs_that_do_not_fit()
    {
        using var scope = NewDisposeScope();
        var (x, y, c, _, _) = Setup(n: 20);
        var wrongLabels = Assert.Throws<ArgumentException>(() => Certificates.Certify(c, x, y.narrow(0, 0, 10), 0.25));
        Assert.Contains("one label per input", wrongLabels.Message);
        var wrongSize = Assert.Throws<ArgumentException>(() => Certificates.Certify(c, randn(4, 100), zeros(4, dtype: ScalarType.Int64), 0.25));
        Assert.Contains("3072", wrongSize.Message);
        using var small = new LinearClassifier(10, 100);
        var noNormalised = Assert.Throws<ArgumentException>(() => Certificates.Certify(small, randn(4, 100), zeros(4, dtype: ScalarType.Int64), 0.25));
        Assert.Contains("RadiusGeometry", noNormalised.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Certificates.Certify(c, x, y, -1));
    }
}
