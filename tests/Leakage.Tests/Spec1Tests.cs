using Leakage.Attacks;
using Leakage.Robust;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Tests;

/// <summary>Goh's Spec 1: every feature gamma-robustly useful (gamma &gt;= 0) for at least one class.</summary>
public class Spec1Tests
{
    const int Classes = 10;

    static FeatureCertificate Feature(int i, double ownGamma, double otherGamma) =>
        new(i, 0.2, ownGamma, 0, 1, 1) { GammaByClass = Enumerable.Range(0, Classes).Select(j => j == i ? ownGamma : otherGamma).ToArray() };

    static UnitCertificate With(IReadOnlyList<FeatureCertificate> features) => new(RadiusUnits.Pixel, 0.25, features, 0, 0, 0, []);

    [Fact]
    public void One_feature_that_fails_for_every_class_breaks_spec_1()
    {
        var features = Enumerable.Range(0, Classes).Select(i => Feature(i, i == 3 ? -0.01 : 0.1, -0.5)).ToList();
        Assert.False(With(features).Spec1);
        Assert.False(features[3].RobustlyUsefulForSomeClass);
        // Every feature robust for its own class: Spec 1 holds.
        Assert.True(With(Enumerable.Range(0, Classes).Select(i => Feature(i, 0.0, -0.5)).ToList()).Spec1);
    }

    [Fact]
    public void A_feature_failing_for_its_own_class_but_robust_for_another_satisfies_spec_1()
    {
        var features = Enumerable.Range(0, Classes).Select(i => Feature(i, i == 3 ? -0.2 : 0.1, i == 3 ? 0.05 : -0.5)).ToList();
        Assert.True(features[3].RobustlyUsefulForSomeClass);
        Assert.True(With(features).Spec1);
    }

    /// <summary>
    /// The same two cases from data: feature i is the centred mean of class i + 1, so it is a detector of class
    /// i + 1 and fails for its own class i. At a small radius (0.01) Spec 1 holds through the other class (the
    /// own-class reading would say it fails); at a large radius every feature fails for every class.
    /// </summary>
    [Fact]
    public void Gamma_by_class_reads_a_feature_as_a_detector_of_every_class()
    {
        using var scope = NewDisposeScope();
        var means = RobustTestData.Means(Classes, seed: 11, dim: 200);
        var (x, y) = RobustTestData.Blobs(means, 2000, 0.3, seed: 12);
        var shifted = (means - means.mean([0L], keepdim: true)).roll(-1, 0); // row i = centred mean of class i + 1
        var geometry = RadiusGeometry.Pixel(200);
        // The ten directions as a linear classifier without bias: its features are f_i(x) = shifted_i^T x.
        using var features = LinearClassifier.FromWeights(shifted, zeros(Classes, dtype: shifted.dtype));
        var small = Certificates.Certify(features, x, y, 0.01, geometry).Features;
        Assert.All(small, f => Assert.True(f.Gamma < 0, $"feature {f.Class}: own-class gamma {f.Gamma}"));
        Assert.All(small, f => Assert.True(f.GammaByClass![(f.Class + 1) % Classes] >= 0, $"feature {f.Class}: gamma for class {f.Class + 1} is {f.GammaByClass![(f.Class + 1) % Classes]}"));
        Assert.All(small, f => Assert.Equal(f.Gamma, f.GammaByClass![f.Class], 12));
        Assert.True(With(small).Spec1);

        var large = Certificates.Certify(features, x, y, 100, geometry).Features;
        Assert.All(large, f => Assert.True(f.GammaByClass!.All(g => g < 0)));
        Assert.False(With(large).Spec1);
    }
}
