using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Robust;

/// <summary>
/// One radius of a <see cref="RadiusSweep"/>: the model trained at that radius and its certificates
/// there (in both units; <see cref="Own"/> is the part in the training units).
/// </summary>
public sealed class RadiusSweepPoint : IDisposable
{
    internal RadiusSweepPoint(double radius, RobustLinearResult training, CertificateReport certificate)
    {
        Radius = radius; Training = training; Certificate = certificate;
    }

    /// <summary>Training and certification radius, in <see cref="RobustLinearOptions.Units"/> of the training options.</summary>
    public double Radius { get; }
    /// <summary>The trained model with its history (owned by this point: dispose it, or the point, when done).</summary>
    public RobustLinearResult Training { get; }
    /// <summary>Certificates on the evaluation set at <see cref="Radius"/>, in both units.</summary>
    public CertificateReport Certificate { get; }
    /// <summary>The certificate in the units the model was trained in.</summary>
    public UnitCertificate Own => Certificate[Training.Options.Units];
    /// <summary>Gamma of each feature w_i for its class, in the training units.</summary>
    public IReadOnlyList<double> Gammas => Own.Features.Select(f => f.Gamma).ToArray();
    /// <summary>Spec 2 fraction at the radius, in the training units.</summary>
    public double Spec2Fraction => Own.Spec2Fraction;
    /// <summary>Clean accuracy on the evaluation set.</summary>
    public double CleanAccuracy => Own.CleanAccuracy;
    /// <summary>Certified accuracy at the radius, in the training units.</summary>
    public double CertifiedAccuracy => Own.CertifiedAccuracy;

    /// <inheritdoc/>
    public void Dispose() => Training.Dispose();
}

/// <summary>
/// Trains the robust linear classifier at each radius of a list (for example 0.1 to 1.0) and
/// certifies each on an evaluation set at its own radius, to show how gamma, Spec 2, clean and
/// certified accuracy trade off, and which radius (and units) reproduce Goh's figures.
/// </summary>
public static class RadiusSweep
{
    /// <summary>
    /// For each radius r in <paramref name="radii"/>: trains with <paramref name="options"/> where
    /// <c>TrainRadius = CertifyRadius = r</c> on (<paramref name="trainImages"/>, <paramref name="trainLabels"/>),
    /// then certifies on (<paramref name="testImages"/>, <paramref name="testLabels"/>) at r in both units
    /// (features normalised over the test set). The caller owns (and disposes) the returned points.
    /// </summary>
    public static IReadOnlyList<RadiusSweepPoint> Run(
        Tensor trainImages, Tensor trainLabels, Tensor testImages, Tensor testLabels,
        IEnumerable<double> radii, RobustLinearOptions options, Device? device = null,
        IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        var list = radii.ToArray();
        if (list.Length == 0) throw new ArgumentException("The radius sweep needs at least one radius.", nameof(radii));
        foreach (var r in list)
            if (!(r >= 0) || double.IsInfinity(r))
                throw new ArgumentException($"Sweep radii must be finite numbers >= 0; got {r}.", nameof(radii));
        var points = new List<RadiusSweepPoint>(list.Length);
        try
        {
            foreach (var r in list)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var opts = options with { TrainRadius = r, CertifyRadius = r };
                var trained = RobustLinearTrainer.Train(trainImages, trainLabels, opts, device, null, cancellationToken);
                try
                {
                    using var x = testImages.to(trained.Model.weight.device);
                    using var y = testLabels.to(trained.Model.weight.device);
                    var report = trained.Certify(x, y);
                    var point = new RadiusSweepPoint(r, trained, report);
                    points.Add(point);
                    progress?.Report($"radius {r} ({opts.Units}): {point.Own}");
                }
                catch
                {
                    trained.Dispose();
                    throw;
                }
            }
            return points;
        }
        catch
        {
            foreach (var p in points) p.Dispose();
            throw;
        }
    }
}
