using System.Diagnostics;
using System.Globalization;
using Leakage.Adversarial;
using Leakage.Probes;
using Leakage.Robust;
using static TorchSharp.torch;

namespace Leakage.Experiment;

/// <summary>One radius of the sweep: C trained and certified at that radius, and the leakage its features show.</summary>
/// <param name="Radius">Training and certification radius, in <paramref name="Units"/>.</param>
/// <param name="Units"><c>normalised</c> or <c>pixel</c> (<c>robust.units</c>).</param>
/// <param name="Gamma">γ_i of the ten features at <paramref name="Radius"/> (Spec 1).</param>
/// <param name="Spec2">Share of test points whose prediction is certified at <paramref name="Radius"/> (Spec 2).</param>
/// <param name="CleanAccuracy">C's clean test accuracy.</param>
/// <param name="CertifiedAccuracy">Share of test points classified correctly and certified at <paramref name="Radius"/>.</param>
/// <param name="DRand">The probe on D_rand with these features.</param>
/// <param name="DDet">The probe on D_det with these features.</param>
/// <param name="DRandClean">Its matched null: the clean originals with the D_rand labels.</param>
/// <param name="DDetClean">Its matched null: the clean originals with the D_det labels.</param>
public sealed record SweepPoint(double Radius, string Units, IReadOnlyList<double> Gamma, double Spec2, double CleanAccuracy,
    double CertifiedAccuracy, ProbeEntry DRand, ProbeEntry DDet, ProbeEntry DRandClean, ProbeEntry DDetClean);

/// <summary>
/// Extension <c>beyond.radiusSweep</c>: gamma, Spec 2 and leakage as functions of the robustness
/// radius. C is trained and certified at each radius of <c>beyond.sweepRadii</c> (in
/// <c>robust.units</c>), each model cached under <c>sweep/radius-r/</c>, and the probe runs on D_rand
/// and D_det and on their matched nulls (the clean originals with the same labels), whose level moves
/// with C's accuracy.
/// </summary>
public sealed class RadiusSweepStep(ExperimentRun run)
{
    /// <summary>The cache folder of radius <paramref name="r"/>, relative to the run folder.</summary>
    public static string Folder(double r) => Path.Combine("sweep", $"radius-{r.ToString("0.####", CultureInfo.InvariantCulture)}");

    /// <summary>The training runs of the sweep in the order of <c>beyond.sweepRadii</c> (folder, recipe): C at each radius.</summary>
    public static IReadOnlyList<(string Folder, RobustLinearOptions Options)> Trainings(ExperimentSettings settings) =>
        [.. settings.Beyond.SweepRadii.Select(r => (Folder(r), RobustStep.Options(settings, trainRadius: r)))];

    /// <summary>Trains (or loads) C at each radius, certifies it there and probes with it.</summary>
    /// <exception cref="ArgumentException"><c>beyond.sweepRadii</c> is empty.</exception>
    public IReadOnlyList<SweepPoint> Run(CancellationToken ct = default)
    {
        var radii = run.Settings.Beyond.SweepRadii;
        if (radii.Length == 0) throw new ArgumentException("Setting 'beyond.sweepRadii' is empty: give the radii to sweep, e.g. --sweep 0.1,0.25,0.5,1.");
        var trainings = Trainings(run.Settings);
        foreach (var (folder, _) in trainings) Leakage.Experiment.Scaling.TrainingUnits.Plan(run, folder);
        var drand = run.AdversarialSet(AdversarialKind.Random, ct);
        var ddet = run.AdversarialSet(AdversarialKind.Deterministic, ct);
        run.EnsureOriginals(drand);
        run.EnsureOriginals(ddet);
        var (train, test) = (run.Train, run.Test);
        var clock = Stopwatch.StartNew();
        var probe = run.Probe();
        var points = new List<SweepPoint>();
        for (int i = 0; i < radii.Length; i++)
        {
            ct.ThrowIfCancellationRequested();
            var r = radii[i];
            var (folder, options) = trainings[i];
            using var trained = RobustStep.TrainOrLoad(run, folder, options, null, ct);
            var cert = trained.Certify(test.Images, test.Labels)[options.Units];
            using var w = trained.Model.weight.detach().to(CPU);
            var pr = probe.Run($"D_rand, C at radius {r}", w, drand.Images, drand.Targets, test.Images, test.Labels);
            var pd = probe.Run($"D_det, C at radius {r}", w, ddet.Images, ddet.Targets, test.Images, test.Labels);
            var nr = probe.Run($"clean images, D_rand labels, C at radius {r}", w, train.Images, drand.Targets, test.Images, test.Labels);
            var nd = probe.Run($"clean images, D_det labels, C at radius {r}", w, train.Images, ddet.Targets, test.Images, test.Labels);
            foreach (var e in new[] { pr, pd, nr, nd }) run.WarnUnconverged(e);
            points.Add(new SweepPoint(r, ResultsJson.UnitsName(options.Units), cert.Features.Select(f => f.Gamma).ToArray(), cert.Spec2Fraction,
                cert.CleanAccuracy, cert.CertifiedAccuracy, pr, pd, nr, nd));
            run.Observer.Progress(new StepProgress(StepCatalog.RadiusSweep.Key, (i + 1.0) / radii.Length,
                $"radius {r}: Spec 2 {cert.Spec2Fraction:P1}, leakage D_rand {pr.Accuracy:P1}, D_det {pd.Accuracy:P1}"));
        }
        run.Results.Set(StepCatalog.RadiusSweep.ResultsKey, ResultsJson.Node(points.Select(p => new SweepPointResult(p.Radius, p.Units, p.Gamma, p.Spec2,
            p.CleanAccuracy, p.CertifiedAccuracy, EntryResult.Of(p.DRand), EntryResult.Of(p.DDet), EntryResult.Of(p.DRandClean), EntryResult.Of(p.DDetClean),
            PairedResult.Of(p.DRand, p.DRandClean, probe.Compare(p.DRand, p.DRandClean)),
            PairedResult.Of(p.DDet, p.DDetClean, probe.Compare(p.DDet, p.DDetClean)))).ToArray()));
        run.Results.SetSeconds(StepCatalog.RadiusSweep, clock.Elapsed.TotalSeconds);
        return points;
    }
}
