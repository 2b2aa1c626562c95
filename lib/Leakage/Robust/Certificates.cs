using Leakage.Attacks;
using Leakage.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Robust;

/// <summary>
/// Robustness of one linear feature <c>f_i(x) = w_i^T x</c> for class i (Ilyas et al. 2019, section 2),
/// with labels <c>y = +1</c> for class i and <c>-1</c> otherwise and the feature normalised over a
/// reference set, <c>f~_i = (f_i - Mean) / StdDev</c>, so that <c>E[f~] = 0</c> and <c>E[f~^2] = 1</c> there.
/// </summary>
/// <param name="Class">The class i the feature is tested for (its row of W).</param>
/// <param name="Rho">Usefulness <c>E[y f~_i(x)]</c> over the evaluation set.</param>
/// <param name="Gamma">
/// Robust usefulness <c>E[inf_{delta in ball} y f~_i(x + delta)] = Rho - eps * DualNorm / StdDev</c>: exact
/// for the L2 ball without the [0,1] box; the box only shrinks the set the infimum runs over, so this is
/// a valid lower bound of the box-constrained gamma.
/// </param>
/// <param name="Mean">Mean of <c>w_i^T x</c> over the reference set (the feature's offset).</param>
/// <param name="StdDev">Population standard deviation of <c>w_i^T x</c> over the reference set (its scale).</param>
/// <param name="DualNorm">Dual norm of <c>w_i</c> in the radius units: <c>||w_i||_2</c> (pixel) or <c>||s ⊙ w_i||_2</c> (normalised).</param>
public sealed record FeatureCertificate(int Class, double Rho, double Gamma, double Mean, double StdDev, double DualNorm)
{
    /// <summary>
    /// Gamma of this feature for every class j (labels +1 for class j, -1 otherwise) at the same radius;
    /// entry <see cref="Class"/> equals <see cref="Gamma"/>. Null when only the own class was computed.
    /// </summary>
    public IReadOnlyList<double>? GammaByClass { get; init; }

    /// <summary>
    /// The feature is gamma-robustly useful (gamma &gt;= 0) for at least one class: its own class, or
    /// any class of <see cref="GammaByClass"/>.
    /// </summary>
    public bool RobustlyUsefulForSomeClass => Gamma >= 0 || (GammaByClass?.Any(g => g >= 0) ?? false);

    /// <summary>How much the worst case in the ball costs: <c>Rho - Gamma = eps * DualNorm / StdDev</c>.</summary>
    public double RobustnessCost => Rho - Gamma;
}

/// <summary>All certificates of a linear classifier at one radius, in one kind of units.</summary>
/// <param name="Units">Units of <paramref name="Radius"/>.</param>
/// <param name="Radius">The certification radius eps.</param>
/// <param name="Features">Spec 1: gamma and rho of each row <c>w_i</c> for its class i.</param>
/// <param name="CleanAccuracy">Share of points whose prediction <c>c = argmax z</c> equals the label.</param>
/// <param name="Spec2Fraction">Spec 2: share of points whose certified radius exceeds eps (the prediction cannot change in the ball).</param>
/// <param name="CertifiedAccuracy">Share of points predicted correctly and certified at eps.</param>
/// <param name="CertifiedRadii">Per point, <c>r(x) = min_{j != c} (z_c - z_j) / dual(w_c - w_j)</c>, in the same units.</param>
public sealed record UnitCertificate(
    RadiusUnits Units, double Radius, IReadOnlyList<FeatureCertificate> Features,
    double CleanAccuracy, double Spec2Fraction, double CertifiedAccuracy, IReadOnlyList<double> CertifiedRadii)
{
    /// <summary>Number of evaluated points.</summary>
    public int Count => CertifiedRadii.Count;
    /// <summary>
    /// Goh's Spec 1: every feature is gamma-robustly useful (gamma &gt;= 0 at <see cref="Radius"/>) for at
    /// least one of the classes (its own class suffices when its gamma is &gt;= 0).
    /// </summary>
    public bool Spec1 => Features.Count > 0 && Features.All(f => f.RobustlyUsefulForSomeClass);
    /// <summary>Smallest gamma over the features.</summary>
    public double MinGamma => Features.Min(f => f.Gamma);
    /// <summary>Largest gamma over the features.</summary>
    public double MaxGamma => Features.Max(f => f.Gamma);
    /// <summary>Median of the per-point certified radii.</summary>
    public double MedianCertifiedRadius => Quantile(CertifiedRadii, 0.5);
    /// <summary>Share of points certified at radius <paramref name="eps"/> (from the stored radii).</summary>
    public double Spec2At(double eps) => CertifiedRadii.Count(r => r > eps) / (double)Math.Max(1, Count);

    static double Quantile(IReadOnlyList<double> values, double q)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        var pos = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(pos), hi = (int)Math.Ceiling(pos);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Units} eps {Radius}: clean {CleanAccuracy:P2}, Spec 2 {Spec2Fraction:P2}, certified {CertifiedAccuracy:P2}, " +
        $"gamma {MinGamma:0.000}..{MaxGamma:0.000} (Spec 1 {(Spec1 ? "holds" : "fails")})";
}

/// <summary>
/// Certificates at one radius in both units, so a report can show which reading of Goh's radius
/// reproduces his table. Radius eps means <c>||delta||_2 &lt;= eps</c> in <see cref="Pixel"/> and
/// <c>||delta ⊘ s||_2 &lt;= eps</c> (s the CIFAR std) in <see cref="Normalised"/>.
/// </summary>
public sealed record CertificateReport(double Radius, UnitCertificate Pixel, UnitCertificate Normalised)
{
    /// <summary>The part for <paramref name="units"/>.</summary>
    public UnitCertificate this[RadiusUnits units] => units switch
    {
        RadiusUnits.Pixel => Pixel,
        RadiusUnits.Normalised => Normalised,
        _ => throw new ArgumentOutOfRangeException(nameof(units), units, "Unknown radius units."),
    };
}

/// <summary>
/// Exact, closed-form certificates for linear features and linear classifiers under L2 balls
/// (<see cref="RadiusGeometry"/>): Ilyas et al.'s gamma-robust usefulness per feature (Goh's Spec 1),
/// per-point certified radii, the share of points certified at a radius (Spec 2) and certified accuracy.
/// </summary>
/// <remarks>
/// For <c>f(x) = w^T x</c>, <c>inf_{delta in ball(eps)} y f(x + delta) = y f(x) - eps * dual(w)</c> for
/// <c>y = ±1</c>, and the logit gap <c>z_c - z_j</c> falls by at most <c>eps * dual(w_c - w_j)</c>, with equality
/// along <see cref="RadiusGeometry.WorstCaseDirection"/>. Features are computed in the dtype of the images
/// (float32 for CIFAR) and all statistics in float64.
/// The feature normaliser (mean and standard deviation of each <c>w_i^T x</c>) comes from a reference
/// set: by default the evaluation set itself, so that <c>E[f~] = 0</c> and <c>E[f~^2] = 1</c> hold exactly
/// where gamma is measured (Ilyas et al. define the normalisation over the data distribution; the test
/// set is its stand-in). Pass the training set as reference to normalise with training statistics.
/// </remarks>
public static class Certificates
{
    // Kept for the process (Native/Scalars.cs says why).
    static readonly Scalar Two = Scalars.Constant(2L), Smallest = Scalars.Constant(double.Epsilon), Infinity = Scalars.Constant(double.PositiveInfinity);

    /// <summary>
    /// Everything at radius <paramref name="eps"/> in both units for classifier <paramref name="classifier"/>
    /// on images <paramref name="x"/> (N x 3 x 32 x 32 or N x 3072) with labels <paramref name="y"/> (N),
    /// normalising the features over <paramref name="reference"/> (default: <paramref name="x"/>).
    /// </summary>
    public static CertificateReport Certify(LinearClassifier classifier, Tensor x, Tensor y, double eps, Tensor? reference = null)
    {
        if (classifier.Dimension != CifarNormalisation.Dimension)
            throw new ArgumentException(
                $"Certifying in both units needs CIFAR inputs of {CifarNormalisation.Dimension} values (normalised units are defined by the per-channel CIFAR std); " +
                $"this classifier takes {classifier.Dimension}. Use the overload with a RadiusGeometry.", nameof(classifier));
        using var scope = NewDisposeScope();
        using var w = classifier.weight.detach();
        using var b = classifier.bias.detach();
        var inputs = Inputs.Compute(w, b, x, y, reference);
        return new CertificateReport(eps,
            Core(inputs, w, eps, RadiusGeometry.Pixel()),
            Core(inputs, w, eps, RadiusGeometry.CifarNormalised()));
    }

    /// <summary>
    /// Everything at radius <paramref name="eps"/> in the units of <paramref name="geometry"/> for a linear
    /// classifier on inputs <paramref name="x"/> (N x ..., flattening to N x D) with labels <paramref name="y"/>.
    /// </summary>
    public static UnitCertificate Certify(LinearClassifier classifier, Tensor x, Tensor y, double eps, RadiusGeometry geometry, Tensor? reference = null)
    {
        using var scope = NewDisposeScope();
        using var w = classifier.weight.detach();
        using var b = classifier.bias.detach();
        return Core(Inputs.Compute(w, b, x, y, reference), w, eps, geometry);
    }

    /// <summary>
    /// Per-point certified radius <c>r(x) = min_{j != c} (z_c - z_j) / dual(w_c - w_j)</c> with <c>c = argmax z</c>
    /// (float64, N): no perturbation in the ball of radius below r(x) can change the prediction, and one of
    /// size r(x) along the worst direction of the closest pair reaches a tie. Infinite when no other class
    /// can ever overtake c (its weight row equals w_c and its bias is lower).
    /// </summary>
    public static Tensor CertifiedRadii(LinearClassifier classifier, Tensor x, RadiusGeometry geometry)
    {
        using var scope = NewDisposeScope();
        var w = classifier.weight.detach();
        var z = ComputeLogits(w, classifier.bias.detach(), x);
        return RadiiFromLogits(z, w, geometry).radii.MoveToOuterDisposeScope();
    }

    static UnitCertificate Core(Inputs inputs, Tensor w, double eps, RadiusGeometry geometry)
    {
        if (!(eps >= 0) || double.IsInfinity(eps)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "Certification radius must be a finite number >= 0.");
        using var scope = NewDisposeScope();
        var features = Features(inputs, w, eps, geometry);
        var (radii, predicted) = RadiiFromLogits(inputs.Logits, w, geometry);
        var correct = predicted.eq(inputs.Labels);
        var certified = Scalars.With(eps, e => radii.gt(e));
        double n = inputs.Labels.shape[0];
        return new UnitCertificate(geometry.Units, eps, features,
            CleanAccuracy: correct.sum().item<long>() / n,
            Spec2Fraction: certified.sum().item<long>() / n,
            CertifiedAccuracy: correct.logical_and(certified).sum().item<long>() / n,
            CertifiedRadii: radii.cpu().data<double>().ToArray());
    }

    static IReadOnlyList<FeatureCertificate> Features(Inputs inputs, Tensor w, double eps, RadiusGeometry geometry)
    {
        using var scope = NewDisposeScope();
        int k = (int)w.shape[0];
        var dual = geometry.DualNorm(w.to(ScalarType.Float64)).cpu().data<double>().ToArray();
        // y_i(n) = +1 if label n is class i else -1, shape N x K.
        var signs = nn.functional.one_hot(inputs.Labels, Math.Max(k, inputs.Labels.max().item<long>() + 1))
            .narrow(1, 0, k).to(ScalarType.Float64) * Two - Scalars.One;
        var normalised = (inputs.Features - inputs.FeatureMean) / inputs.FeatureStd;
        var rho = (signs * normalised).mean([0L]).cpu().data<double>().ToArray();
        // rhoByClass[j, i] = E[y_j f~_i]: feature i read as a detector of class j.
        var rhoByClass = Scalars.With(normalised.shape[0], n => signs.t().matmul(normalised).div(n)).cpu().data<double>().ToArray();
        var mu = inputs.FeatureMean.cpu().data<double>().ToArray();
        var sd = inputs.FeatureStd.cpu().data<double>().ToArray();
        var result = new FeatureCertificate[k];
        for (int i = 0; i < k; i++)
        {
            double r = sd[i] > 0 ? rho[i] : double.NaN;
            double cost = eps * dual[i] / sd[i];
            var byClass = Enumerable.Range(0, k).Select(j => sd[i] > 0 ? (j == i ? r - cost : rhoByClass[j * k + i] - cost) : double.NaN).ToArray();
            result[i] = new FeatureCertificate(i, r, r - cost, mu[i], sd[i], dual[i]) { GammaByClass = byClass };
        }
        return result;
    }

    static (Tensor radii, Tensor predicted) RadiiFromLogits(Tensor z, Tensor w, RadiusGeometry geometry)
    {
        var pair = geometry.PairwiseDualNorms(w.to(ScalarType.Float64, z.device)); // K x K
        var predicted = z.argmax(1);
        var margin = z.gather(1, predicted.unsqueeze(1)) - z;                     // N x K, >= 0
        var denom = pair.index_select(0, predicted);                              // N x K
        var ratio = torch.where(denom > Scalars.Zero, margin / denom.clamp_min(Smallest),
            torch.where(margin > Scalars.Zero, full_like(margin, Infinity), zeros_like(margin)));
        var self = nn.functional.one_hot(predicted, z.shape[1]).to(ScalarType.Bool);
        var radii = ratio.masked_fill(self, Infinity).amin([1L]);
        return (radii, predicted);
    }

    /// <summary>Logits in float64: <c>x W^T + b</c> computed in the images' dtype, then widened.</summary>
    static Tensor ComputeLogits(Tensor w, Tensor b, Tensor x)
    {
        TorchNative.Ensure();
        var flat = LinearClassifier.Flatten(x, w.shape[1]);
        return nn.functional.linear(flat, w.to(flat.dtype, flat.device), b.to(flat.dtype, flat.device)).to(ScalarType.Float64);
    }

    /// <summary>Quantities shared by both units: features, logits, labels and the reference normaliser.</summary>
    sealed record Inputs(Tensor Features, Tensor Logits, Tensor Labels, Tensor FeatureMean, Tensor FeatureStd)
    {
        public static Inputs Compute(Tensor w, Tensor b, Tensor x, Tensor y, Tensor? reference)
        {
            if (w.dim() != 2) throw new ArgumentException($"Weights must be K x D, got shape [{string.Join(", ", w.shape)}].", nameof(w));
            if (x.shape[0] == 0) throw new ArgumentException("Cannot certify on an empty set of inputs.", nameof(x));
            if (y.dim() != 1 || y.shape[0] != x.shape[0])
                throw new ArgumentException($"Expected one label per input ({x.shape[0]}), got label shape [{string.Join(", ", y.shape)}].", nameof(y));
            using var _ = no_grad();
            var zeroBias = zeros_like(b);
            var features = ComputeLogits(w, zeroBias, x);
            var logits = features + b.to(ScalarType.Float64, features.device);
            var refFeatures = reference is null ? features : ComputeLogits(w, zeroBias, reference).to(features.device);
            var mean = refFeatures.mean([0L]);
            var std = (refFeatures - mean).square().mean([0L]).sqrt(); // population: E[f~^2] = 1 exactly on the reference
            var labels = y.to(ScalarType.Int64, features.device);
            long lo = labels.min().item<long>();
            if (lo < 0) throw new ArgumentException($"Labels must be >= 0, found {lo}.", nameof(y));
            return new Inputs(features, logits, labels, mean, std);
        }
    }
}
