using Leakage.Attacks;
using Leakage.Robust;
using static TorchSharp.torch;

namespace Leakage.Experiment;

/// <summary>The robust linear classifier C and its exact certificates in both radius units.</summary>
public sealed record RobustOutcome(RobustLinearResult Training, CertificateReport Certificates, RadiusUnits Units, double Seconds)
{
    /// <summary>C's weights, 10 x 3072: the robust feature directions w_i.</summary>
    public Tensor Weights => Training.Model.weight;
    /// <summary>Certificates in the configured units.</summary>
    public UnitCertificate Primary => Certificates[Units];
    /// <summary>Certificates in the other units.</summary>
    public UnitCertificate Other => Certificates[Units == RadiusUnits.Pixel ? RadiusUnits.Normalised : RadiusUnits.Pixel];
}

/// <summary>
/// Step 3: the robust linear classifier C (cached in <c>robust_linear/</c>), certified on the test set
/// in both units and at the attack's radius; when C's units are normalised, a C trained in pixel
/// units (<c>robust_linear_pixel/</c>) for the units comparison.
/// </summary>
public sealed class RobustStep(ExperimentRun run) : IDisposable
{
    RobustOutcome? _outcome;

    /// <summary>The robust linear training settings that <paramref name="settings"/> describe (also used by <c>bench</c>), with another seed or training (and certification) radius when given.</summary>
    public static RobustLinearOptions Options(ExperimentSettings settings, int? seed = null, double? trainRadius = null) => new()
    {
        TrainRadius = trainRadius ?? settings.Robust.TrainRadius,
        CertifyRadius = trainRadius ?? settings.Robust.CertRadius,
        Units = settings.Robust.RadiusUnits,
        Epochs = settings.Robust.Epochs,
        BatchSize = settings.Robust.BatchSize,
        LearningRate = settings.Robust.Lr,
        WeightDecay = settings.Robust.WeightDecay,
        Seed = seed ?? settings.IntSeed,
    };

    /// <summary>C's folder; <see cref="PixelFolder"/> holds the C trained in pixel units when C's units are normalised.</summary>
    public const string Folder = "robust_linear", PixelFolder = "robust_linear_pixel";

    /// <summary>The training runs of this step (folder, recipe): C, and C in pixel units when C's units are not pixel.</summary>
    public static IReadOnlyList<(string Folder, RobustLinearOptions Options)> Trainings(ExperimentSettings settings)
    {
        var options = Options(settings);
        return options.Units == RadiusUnits.Pixel
            ? [(Folder, options)]
            : [(Folder, options), (PixelFolder, options with { Units = RadiusUnits.Pixel })];
    }

    /// <summary>
    /// Trains (or loads) a robust linear classifier on the run's training images into
    /// <paramref name="folder"/> (relative to the run folder), as a training unit: a worker that finds
    /// it held by a live worker waits and loads it (<see cref="Leakage.Experiment.Scaling.TrainingUnits"/>).
    /// </summary>
    public static RobustLinearResult TrainOrLoad(ExperimentRun run, string folder, RobustLinearOptions options,
        IProgress<RobustLinearEpoch>? progress = null, CancellationToken ct = default) =>
        Leakage.Experiment.Scaling.TrainingUnits.Run(run, folder,
            () => RobustLinearTrainer.TrainOrLoad(run.Folder(folder), run.DataIdentity, run.Train.Images, run.Train.Labels, options, run.Device, progress, run.Observer.Log, ct),
            r => r.Elapsed.TotalSeconds, ct);

    /// <summary>Trains (or loads) C and certifies it on the test set, in both units.</summary>
    public RobustOutcome Run(CancellationToken ct = default)
    {
        if (_outcome != null) return _outcome;
        var options = Options(run.Settings);
        var key = StepCatalog.Robust.Key;
        var progress = new SyncProgress<RobustLinearEpoch>(e => run.Observer.Progress(new StepProgress(key, (double)e.Epoch / e.Epochs,
            $"epoch {e.Epoch}/{e.Epochs}, eps {e.Radius:0.###}, loss {e.Loss:0.000}, certified (train) {e.CertifiedAccuracy:P1}")));
        var (train, test) = (run.Train, run.Test);
        var training = TrainOrLoad(run, Folder, options, progress, ct);
        var report = training.Certify(test.Images, test.Labels);
        var outcome = new RobustOutcome(training, report, options.Units, training.Elapsed.TotalSeconds);
        run.Observer.Log($"Robust linear classifier: {outcome.Primary}");
        // Where the attack works: gamma of C's features at the attack's radius, which is in pixel units.
        var atAttack = Certificates.Certify(training.Model, test.Images, test.Labels, run.Settings.Attack.Eps, RadiusGeometry.Pixel());
        run.Observer.Log($"C at the attack's radius: {atAttack}");
        CertificateResult? pixelTrained = null;
        if (options.Units != RadiusUnits.Pixel)
        {
            // The units comparison needs a C trained (not only certified) in pixel units at the same radius:
            // a C trained in normalised units is not the best pixel-robust classifier.
            var pixelOptions = Trainings(run.Settings)[1].Options;
            using var pixel = TrainOrLoad(run, PixelFolder, pixelOptions, null, ct);
            var atRadius = pixel.Certify(test.Images, test.Labels, RadiusGeometry.Pixel());
            var pixelAtAttack = Certificates.Certify(pixel.Model, test.Images, test.Labels, run.Settings.Attack.Eps, RadiusGeometry.Pixel());
            run.Observer.Log($"C trained in pixel units: {atRadius}; at the attack's radius: {pixelAtAttack}");
            pixelTrained = CertificateResult.PixelTrainedOf(atRadius, pixelOptions.TrainRadius, pixelAtAttack);
        }
        run.Results.Set(StepCatalog.Robust.ResultsKey, ResultsJson.Node(CertificateResult.Of(outcome, options, atAttack, pixelTrained)));
        run.Results.SetSeconds(StepCatalog.Robust, outcome.Seconds);
        return _outcome = outcome;
    }

    public void Dispose() => _outcome?.Training.Dispose();
}
