using Leakage.Attacks;
using Leakage.Native;
using Leakage.Robust;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Experiment;

/// <summary>Spec 2 and certified accuracy of a linear classifier at one radius.</summary>
/// <param name="Radius">The radius eps, in the certificate's units.</param>
/// <param name="Spec2Fraction">Share of points whose certified radius exceeds eps (the prediction cannot change).</param>
/// <param name="CertifiedAccuracy">Share of points predicted correctly and certified at eps.</param>
public sealed record CertifiedPoint(double Radius, double Spec2Fraction, double CertifiedAccuracy);

/// <summary>What an L2 PGD attack did to one test point of a certified linear classifier.</summary>
/// <param name="Index">Position of the point in the batch that was attacked.</param>
/// <param name="Label">True label.</param>
/// <param name="Prediction">The classifier's prediction on the clean point (the class the attack tries to change).</param>
/// <param name="CertifiedRadius">Exact certified radius r(x) in the geometry's units (no perturbation smaller than it changes the prediction).</param>
/// <param name="Eps">The attack radius.</param>
/// <param name="Norm">Size of the perturbation PGD found at <paramref name="Eps"/>, in the geometry's units (at most eps).</param>
/// <param name="Flipped">Whether that perturbation changed the prediction.</param>
/// <param name="BeyondRadius">A radius just above r(x) (5% more), or NaN when r(x) is infinite.</param>
/// <param name="FlippedBeyond">Whether PGD at <paramref name="BeyondRadius"/> changed the prediction (it may not: the pixel box [0,1] can block the worst direction).</param>
public sealed record CertificateAttack(int Index, long Label, long Prediction, double CertifiedRadius, double Eps, double Norm, bool Flipped,
    double BeyondRadius, bool FlippedBeyond)
{
    /// <summary>The certificate covers the attack radius: r(x) &gt; eps.</summary>
    public bool Certified => CertifiedRadius > Eps;

    /// <summary>An attack beat the certificate: a certified point whose prediction changed within eps. Must never happen.</summary>
    public bool BeatsCertificate => Certified && Flipped;
}

/// <summary>
/// Checks on the exact certificates of a linear classifier (<see cref="Certificates"/>) that a
/// notebook can show: Spec 2 and certified accuracy as a function of the radius, read off the
/// stored per-point certified radii, and an empirical attack (<see cref="LinearPgd"/>) that must
/// not change any certified prediction.
/// </summary>
public static class CertificateChecks
{
    /// <summary>
    /// Spec 2 fraction and certified accuracy at each of <paramref name="radii"/>, from the per-point
    /// certified radii stored in <paramref name="certificate"/> (made on <paramref name="x"/>,
    /// <paramref name="y"/> in that order) and the classifier's predictions on the same points. At the
    /// certificate's own radius the values equal <see cref="UnitCertificate.Spec2Fraction"/> and
    /// <see cref="UnitCertificate.CertifiedAccuracy"/>; both fall as the radius grows.
    /// </summary>
    /// <exception cref="ArgumentException">The certificate was not made on as many points as <paramref name="x"/> holds, or a radius is negative.</exception>
    public static IReadOnlyList<CertifiedPoint> Curve(UnitCertificate certificate, LinearClassifier model, Tensor x, Tensor y, IEnumerable<double> radii)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        ArgumentNullException.ThrowIfNull(radii);
        var grid = radii.ToList();
        if (grid.Any(r => !(r >= 0) || double.IsInfinity(r))) throw new ArgumentException("Radii must be finite and >= 0.", nameof(radii));
        var predicted = Predictions(model, x);
        var labels = Labels(y);
        if (predicted.Length != certificate.Count || labels.Length != certificate.Count)
            throw new ArgumentException($"The certificate holds {certificate.Count} points but {predicted.Length} inputs and {labels.Length} labels were given; pass the points it was made on.");
        var r = certificate.CertifiedRadii;
        double n = certificate.Count;
        return grid.Select(eps =>
        {
            int certified = 0, certifiedCorrect = 0;
            for (int i = 0; i < r.Count; i++)
            {
                if (!(r[i] > eps)) continue;
                certified++;
                if (predicted[i] == labels[i]) certifiedCorrect++;
            }
            return new CertifiedPoint(eps, certified / n, certifiedCorrect / n);
        }).ToList();
    }

    /// <summary>
    /// Evenly spaced radii from 0 to <paramref name="max"/> (inclusive), <paramref name="points"/> of them.
    /// </summary>
    public static IReadOnlyList<double> Grid(double max, int points = 41)
    {
        if (!(max > 0) || double.IsInfinity(max)) throw new ArgumentOutOfRangeException(nameof(max), max, "The largest radius must be positive and finite.");
        if (points < 2) throw new ArgumentOutOfRangeException(nameof(points), points, "Use at least two points.");
        return Enumerable.Range(0, points).Select(i => max * i / (points - 1)).ToList();
    }

    /// <summary>
    /// Attacks each point of <paramref name="x"/> (a few images, N x 3 x 32 x 32 in [0,1]) with
    /// untargeted L2 PGD on the margin of its predicted class, within radius <paramref name="eps"/> of
    /// <paramref name="geometry"/> and inside the pixel box, then again just beyond its certified radius.
    /// A certified point (r(x) &gt; eps) must keep its prediction; see <see cref="CertificateAttack.BeatsCertificate"/>.
    /// </summary>
    /// <param name="model">The linear classifier.</param>
    /// <param name="x">Points to attack.</param>
    /// <param name="y">Their true labels (shown, not used by the attack).</param>
    /// <param name="geometry">Radius units of <paramref name="eps"/> and of the certified radii.</param>
    /// <param name="eps">Attack radius.</param>
    /// <param name="steps">PGD steps per start.</param>
    /// <param name="restarts">Extra random starts.</param>
    /// <param name="seed">Seed of the random starts.</param>
    public static IReadOnlyList<CertificateAttack> Attack(LinearClassifier model, Tensor x, Tensor y, RadiusGeometry geometry, double eps,
        int steps = 50, int restarts = 2, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(geometry);
        TorchNative.Ensure();
        using var scope = NewDisposeScope();
        var predicted = Predictions(model, x);
        var labels = Labels(y);
        if (labels.Length != predicted.Length) throw new ArgumentException($"{predicted.Length} points but {labels.Length} labels.", nameof(y));
        var prediction = tensor(predicted, dtype: ScalarType.Int64);
        var radii = Certificates.CertifiedRadii(model, x, geometry).cpu().data<double>().ToArray();
        var options = new LinearPgdOptions(eps, Steps: steps, Restarts: restarts, Objective: PgdObjective.Margin, ClampToUnitBox: true, Seed: seed);
        var adversarial = LinearPgd.Attack(model, x, prediction, geometry, options);
        var after = Predictions(model, adversarial);
        var norms = geometry.PerturbationNorm((adversarial - x).flatten(1).to(ScalarType.Float64)).data<double>().ToArray();

        var result = new List<CertificateAttack>(predicted.Length);
        for (int i = 0; i < predicted.Length; i++)
        {
            double beyond = double.IsFinite(radii[i]) ? radii[i] * 1.05 + 1e-9 : double.NaN;
            bool flippedBeyond = false;
            if (double.IsFinite(beyond))
            {
                using var pointScope = NewDisposeScope();
                var xi = x.narrow(0, i, 1);
                var adv = LinearPgd.Attack(model, xi, prediction.narrow(0, i, 1), geometry, options with { Radius = beyond });
                flippedBeyond = Predictions(model, adv)[0] != predicted[i];
            }
            result.Add(new CertificateAttack(i, labels[i], predicted[i], radii[i], eps, norms[i], after[i] != predicted[i], beyond, flippedBeyond));
        }
        return result;
    }

    /// <summary>
    /// Predictions computed exactly as <see cref="Certificates"/> does (features in the input dtype,
    /// bias added in float64), so curves and attacks agree with the certificate on near-ties.
    /// </summary>
    static long[] Predictions(LinearClassifier model, Tensor x)
    {
        TorchNative.Ensure();
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var w = model.weight.detach();
        var flat = x.dim() == 2 ? x : x.flatten(1);
        if (flat.shape[1] != w.shape[1])
            throw new ArgumentException($"Inputs have {flat.shape[1]} values each but the classifier takes {w.shape[1]}.", nameof(x));
        var features = nn.functional.linear(flat, w.to(flat.dtype, flat.device), zeros(w.shape[0], dtype: flat.dtype, device: flat.device)).to(ScalarType.Float64);
        var logits = features + model.bias.detach().to(ScalarType.Float64, features.device);
        return logits.argmax(1).cpu().data<long>().ToArray();
    }

    static long[] Labels(Tensor y)
    {
        if (y.dim() != 1) throw new ArgumentException($"Labels must be a vector, got shape [{string.Join(", ", y.shape)}].", nameof(y));
        using var l = y.to(ScalarType.Int64, CPU);
        return l.data<long>().ToArray();
    }
}
