using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Leakage.Adversarial;
using Leakage.Attacks;
using Leakage.IO;
using Leakage.Models;
using Leakage.Probes;
using Leakage.Released;
using Leakage.Robust;
using Leakage.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Experiment;

/// <summary>
/// A model's accuracy on a set of test images, clean and under untargeted L2 PGD (keep-best, no
/// random start, step 2.5 x radius / steps). The attacked accuracy is an upper bound of the true
/// robust accuracy: a stronger attack could only lower it.
/// </summary>
/// <param name="Images">Test images attacked, spread evenly over the test set.</param>
/// <param name="Radius">L2 radius of the attack, pixel units.</param>
/// <param name="Steps">PGD steps.</param>
/// <param name="CleanAccuracy">Accuracy on those images unperturbed.</param>
/// <param name="AttackedAccuracy">Accuracy on those images after the attack.</param>
public sealed record PgdEvaluation(int Images, double Radius, int Steps, double CleanAccuracy, double AttackedAccuracy);

/// <summary>
/// Goh's bound from robust <em>nonlinear</em> features: a small CNN adversarially trained with L2 PGD,
/// its empirical robustness, and the leakage probe on its logits and penultimate features.
/// </summary>
/// <param name="Model">The adversarially trained network (eval mode).</param>
/// <param name="Radius">Training and evaluation radius (pixel units, L2).</param>
/// <param name="CleanAccuracy">Its clean accuracy on the whole test set.</param>
/// <param name="Robust">The robust CNN under PGD at <paramref name="Radius"/>.</param>
/// <param name="Standard">The standard model of step 1 under the same attack on the same images: what adversarial training changed.</param>
/// <param name="Probes">Probe entries, for the robust CNN's logits and then its penultimate features: D_rand, D_det, clean D, and the matched nulls (clean originals with the D_rand / D_det labels); then the standard model's logits on D_rand and D_det for contrast.</param>
/// <param name="Seconds">Compute time of training (when done now or recorded then) plus evaluation and probes.</param>
public sealed record NonlinearOutcome(nn.Module<Tensor, Tensor> Model, double Radius, double CleanAccuracy, PgdEvaluation Robust,
    PgdEvaluation Standard, IReadOnlyList<ProbeEntry> Probes, double Seconds)
{
    /// <summary>The probe entry whose name starts with <paramref name="prefix"/>, e.g. "D_rand, robust CNN logits".</summary>
    /// <exception cref="KeyNotFoundException">No entry, or several, start with it.</exception>
    public ProbeEntry Probe(string prefix)
    {
        var found = Probes.Where(e => e.Name.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        return found.Count == 1 ? found[0] : throw new KeyNotFoundException(
            $"{found.Count} nonlinear probe entries start with '{prefix}'; the entries are: {string.Join("; ", Probes.Select(e => e.Name))}.");
    }
}

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

/// <summary>The probe on one of Ilyas et al.'s released data sets.</summary>
public sealed record ReleasedProbe(string Folder, ReleasedDatasetKind? Kind, long Images, ProbeEntry Entry);

/// <summary>Leakage over several seeds of the robust classifier C (and of the probe's bootstrap).</summary>
public sealed record ProbeSeedStudy(IReadOnlyList<int> Seeds, IReadOnlyList<double> DRand, IReadOnlyList<double> DDet)
{
    public static double Mean(IReadOnlyList<double> v) => v.Count == 0 ? double.NaN : v.Average();
    public static double Sd(IReadOnlyList<double> v) => v.Count < 2 ? double.NaN : Math.Sqrt(v.Sum(x => (x - v.Average()) * (x - v.Average())) / (v.Count - 1));
}

public sealed partial class ExperimentRun
{
    NonlinearOutcome? _nonlinear;

    /// <summary>The adversarial-training recipe of the robust CNN (untargeted L2 PGD with random start).</summary>
    public TrainingOptions NonlinearTraining()
    {
        var b = Settings.Beyond;
        return StandardTraining() with
        {
            Epochs = b.NonlinearEpochs,
            Seed = Settings.Seed + 2,
            Adversary = new L2PgdOptions
            {
                Eps = b.NonlinearRadius,
                StepSize = 2.5 * b.NonlinearRadius / b.NonlinearPgdSteps,
                Steps = b.NonlinearPgdSteps,
                RandomStart = true,
                KeepBest = false,
            },
        };
    }

    /// <summary>
    /// Trains (or loads) the adversarially trained CNN, measures clean and PGD accuracy, and runs the
    /// leakage probe on its features. Goh notes robust nonlinear features should tighten his bound.
    /// </summary>
    public NonlinearOutcome NonlinearFeatures(CancellationToken ct = default)
    {
        if (_nonlinear != null) return _nonlinear;
        var drand = AdversarialSet(AdversarialKind.Random, ct);
        var ddet = AdversarialSet(AdversarialKind.Deterministic, ct);
        var standard = StandardModel(ct).Model;
        var s = Settings.Standard;
        var b = Settings.Beyond;
        var training = NonlinearTraining();
        var identity = new JsonObject { ["training"] = Artifacts.ToNode(training), ["data"] = DataIdentity };
        var (model, _, seconds, _) = TrainOrLoad("robust_cnn", "Robust CNN", $"adversarial training at L2 radius {b.NonlinearRadius}", training, training.Seed, identity,
            Train.Images, Train.Labels, "robustCnn", "standard.lr", ct);
        var clock = Stopwatch.StartNew();

        var clean = Evaluation.Accuracy(model, Test.Images, Test.Labels, Device);
        // Empirical robustness on (up to) 1,000 test images spread evenly over the test set (image
        // folders are ordered by class), with a stronger attack than the training one; the standard
        // model under the same attack shows what adversarial training changed.
        int n = (int)Math.Min(1000, Test.Count);
        using var pick = tensor(Enumerable.Range(0, n).Select(i => (long)i * Test.Count / n).ToArray());
        using var xs = Test.Images.index_select(0, pick);
        using var ys = Test.Labels.index_select(0, pick);
        PgdEvaluation UnderAttack(nn.Module<Tensor, Tensor> m)
        {
            const int steps = 20;
            var options = new L2PgdOptions { Eps = b.NonlinearRadius, StepSize = 2.5 * b.NonlinearRadius / steps, Steps = steps, KeepBest = true };
            using var attacked = L2Pgd.Attack(m, xs, ys, options, Device, Settings.Attack.BatchSize, cancellationToken: ct);
            return new PgdEvaluation(n, b.NonlinearRadius, steps, Evaluation.Accuracy(m, xs, ys, Device), Evaluation.Accuracy(m, attacked.Adversarial, ys, Device));
        }
        var robustEval = UnderAttack(model);
        var standardEval = UnderAttack(standard);
        Observer.Log($"Robust CNN: clean {clean:P2}; on {n:N0} test images under L2 PGD ({robustEval.Steps} steps, radius {b.NonlinearRadius}) " +
                     $"{robustEval.CleanAccuracy:P2} -> {robustEval.AttackedAccuracy:P2} (standard model {standardEval.CleanAccuracy:P2} -> {standardEval.AttackedAccuracy:P2}).");

        LeakageControls.EnsureOriginals(this, drand);
        LeakageControls.EnsureOriginals(this, ddet);
        var probe = Probe();
        var entries = new List<ProbeEntry>();
        var robustViews = new (string Name, Func<Tensor, Tensor> Of)[]
        {
            ("robust CNN logits", x => Evaluation.Logits(model, x, Device)),
            ("robust CNN penultimate features", x => Evaluation.Features(model, x, Device)),
        };
        foreach (var (view, of) in robustViews)
        {
            ct.ThrowIfCancellationRequested();
            using var test = of(Test.Images);
            using var cleanTrain = of(Train.Images);
            foreach (var (name, images, labels) in new[] { ("D_rand", drand.Images, drand.Targets), ("D_det", ddet.Images, ddet.Targets) })
            {
                using var features = of(images);
                entries.Add(probe.RunOnFeatures($"{name}, {view}", features, labels, test, Test.Labels));
            }
            entries.Add(probe.RunOnFeatures($"clean D, {view}", cleanTrain, Train.Labels, test, Test.Labels));
            // Matched nulls: the same probes on the clean originals with the same labels.
            entries.Add(probe.RunOnFeatures($"clean images, D_rand labels, {view}", cleanTrain, drand.Targets, test, Test.Labels));
            entries.Add(probe.RunOnFeatures($"clean images, D_det labels, {view}", cleanTrain, ddet.Targets, test, Test.Labels));
        }
        // Contrast: the same probe on the attacked (non-robust) standard model's logits.
        using (var testLogits = Evaluation.Logits(standard, Test.Images, Device))
            foreach (var (name, images, labels) in new[] { ("D_rand", drand.Images, drand.Targets), ("D_det", ddet.Images, ddet.Targets) })
            {
                using var logits = Evaluation.Logits(standard, images, Device);
                entries.Add(probe.RunOnFeatures($"{name}, standard model logits (non-robust)", logits, labels, testLogits, Test.Labels));
            }
        foreach (var e in entries) { Observer.Log($"Nonlinear probe: {e}"); WarnUnconverged(e); }
        // Each probe against its matched null, paired on the test points.
        var comparisons = new JsonArray();
        foreach (var (view, _) in robustViews)
            foreach (var name in new[] { "D_rand", "D_det" })
            {
                var attacked = entries.Single(e => e.Name == $"{name}, {view}");
                var baseline = entries.Single(e => e.Name == $"clean images, {name} labels, {view}");
                var c = probe.Compare(attacked, baseline);
                Observer.Log($"Nonlinear probe against its null: {attacked.Name}: {c}");
                comparisons.Add(PairedJson(attacked, baseline, c));
            }
        double total = seconds + clock.Elapsed.TotalSeconds;
        Results.Set("beyond.nonlinear", new JsonObject
        {
            ["arch"] = s.Arch,
            ["width"] = s.Width,
            ["radius"] = b.NonlinearRadius,
            ["trainPgdSteps"] = b.NonlinearPgdSteps,
            ["epochs"] = b.NonlinearEpochs,
            ["cleanAccuracy"] = clean,
            ["robustAccuracy"] = robustEval.AttackedAccuracy,
            ["cleanAccuracyOnAttacked"] = robustEval.CleanAccuracy,
            ["robustEvaluatedImages"] = n,
            ["evalPgdSteps"] = robustEval.Steps,
            ["standardModelUnderAttack"] = new JsonObject
            {
                ["cleanAccuracy"] = standardEval.CleanAccuracy,
                ["attackedAccuracy"] = standardEval.AttackedAccuracy,
            },
            ["probes"] = new JsonArray(entries.Select(e => (JsonNode)EntryJson(e)).ToArray()),
            ["comparisons"] = comparisons,
        });
        Results.Set("seconds.nonlinear", total);
        return _nonlinear = new NonlinearOutcome(model, b.NonlinearRadius, clean, robustEval, standardEval, entries, total);
    }

    /// <summary>
    /// Gamma, Spec 2 and leakage as functions of the robustness radius: C is trained and certified
    /// at each radius of <c>beyond.sweepRadii</c> (in <c>robust.units</c>), each model cached, and the
    /// probe runs on D_rand and D_det and on their matched nulls (the clean originals with the same
    /// labels), whose level moves with C's accuracy.
    /// </summary>
    public IReadOnlyList<SweepPoint> RadiusSweep(CancellationToken ct = default)
    {
        var drand = AdversarialSet(AdversarialKind.Random, ct);
        var ddet = AdversarialSet(AdversarialKind.Deterministic, ct);
        LeakageControls.EnsureOriginals(this, drand);
        LeakageControls.EnsureOriginals(this, ddet);
        var clock = Stopwatch.StartNew();
        var probe = Probe();
        var points = new List<SweepPoint>();
        var radii = Settings.Beyond.SweepRadii;
        for (int i = 0; i < radii.Length; i++)
        {
            ct.ThrowIfCancellationRequested();
            var r = radii[i];
            var options = RobustOptions(trainRadius: r);
            var dir = Dir(Path.Combine("sweep", $"radius-{r.ToString("0.####", CultureInfo.InvariantCulture)}"));
            using var trained = RobustLinearTrainer.TrainOrLoad(dir, DataIdentity, Train.Images, Train.Labels, options, Device, null, Observer.Log, ct);
            var cert = trained.Certify(Test.Images, Test.Labels)[options.Units];
            using var w = trained.Model.weight.detach().to(CPU);
            var pr = probe.Run($"D_rand, C at radius {r}", w, drand.Images, drand.Targets, Test.Images, Test.Labels);
            var pd = probe.Run($"D_det, C at radius {r}", w, ddet.Images, ddet.Targets, Test.Images, Test.Labels);
            var nr = probe.Run($"clean images, D_rand labels, C at radius {r}", w, Train.Images, drand.Targets, Test.Images, Test.Labels);
            var nd = probe.Run($"clean images, D_det labels, C at radius {r}", w, Train.Images, ddet.Targets, Test.Images, Test.Labels);
            foreach (var e in new[] { pr, pd, nr, nd }) WarnUnconverged(e);
            points.Add(new SweepPoint(r, UnitsName(options.Units), cert.Features.Select(f => f.Gamma).ToArray(), cert.Spec2Fraction,
                cert.CleanAccuracy, cert.CertifiedAccuracy, pr, pd, nr, nd));
            Observer.Progress(new StepProgress("radiusSweep", (i + 1.0) / radii.Length, $"radius {r}: Spec 2 {cert.Spec2Fraction:P1}, leakage D_rand {pr.Accuracy:P1}, D_det {pd.Accuracy:P1}"));
        }
        Results.Set("beyond.radiusSweep", new JsonArray(points.Select(p => (JsonNode)new JsonObject
        {
            ["radius"] = p.Radius,
            ["units"] = p.Units,
            ["gamma"] = new JsonArray(p.Gamma.Select(g => (JsonNode)g).ToArray()),
            ["spec2"] = p.Spec2,
            ["cleanAccuracy"] = p.CleanAccuracy,
            ["certifiedAccuracy"] = p.CertifiedAccuracy,
            ["leakageDrand"] = EntryJson(p.DRand),
            ["leakageDdet"] = EntryJson(p.DDet),
            ["leakageDrandClean"] = EntryJson(p.DRandClean),
            ["leakageDdetClean"] = EntryJson(p.DDetClean),
            ["excessDrand"] = PairedJson(p.DRand, p.DRandClean, probe.Compare(p.DRand, p.DRandClean)),
            ["excessDdet"] = PairedJson(p.DDet, p.DDetClean, probe.Compare(p.DDet, p.DDetClean)),
        }).ToArray()));
        Results.Set("seconds.radiusSweep", clock.Elapsed.TotalSeconds);
        return points;
    }

    /// <summary>
    /// The leakage probe on Ilyas et al.'s released data sets (<c>beyond.releasedData</c>): the same
    /// robust features C, trained on each released set with its labels, scored on our clean test set.
    /// </summary>
    public IReadOnlyList<ReleasedProbe> ReleasedLeakage(CancellationToken ct = default)
    {
        var root = Settings.Beyond.ReleasedData ?? throw new InvalidOperationException("Set beyond.releasedData (or --released DIR) to the folder where datasets.tar was extracted.");
        var folders = ReleasedDatasets.Discover(root);
        if (folders.Count == 0)
            throw new DirectoryNotFoundException($"{root}: none of the released data sets (release_datasets/{{d_robust_CIFAR, d_non_robust_CIFAR, drand_CIFAR, ddet_CIFAR}}/CIFAR_ims, CIFAR_lab) was found.");
        var robust = RobustModel(ct);
        using var w = robust.Weights.detach().to(CPU);
        var probe = Probe();
        var clock = Stopwatch.StartNew();
        var results = new List<ReleasedProbe>();
        foreach (var f in folders)
        {
            ct.ThrowIfCancellationRequested();
            using var data = ReleasedDatasets.Load(f.Path);
            var entry = probe.Run($"released {f.Name}, robust features", w, data.Images, data.Labels, Test.Images, Test.Labels);
            Observer.Log($"Released data: {entry}");
            WarnUnconverged(entry);
            results.Add(new ReleasedProbe(f.Path, f.Kind, data.Count, entry));
        }
        var json = new JsonObject { ["root"] = Path.GetFullPath(root) };
        foreach (var r in results) json[r.Kind?.ToString() ?? Path.GetFileName(r.Folder)] = EntryJson(r.Entry);
        Results.Set("beyond.released", json);
        Results.Set("seconds.released", clock.Elapsed.TotalSeconds);
        return results;
    }

    /// <summary>
    /// The probe over <c>beyond.seeds</c> seeds of C (each trained and cached under <c>seeds/</c>) with
    /// the mean and standard deviation of the leakage on D_rand and D_det: how much of a leakage
    /// figure is the robust classifier's own randomness.
    /// </summary>
    public ProbeSeedStudy ProbeSeeds(CancellationToken ct = default)
    {
        int k = Math.Max(1, Settings.Beyond.Seeds);
        var drand = AdversarialSet(AdversarialKind.Random, ct);
        var ddet = AdversarialSet(AdversarialKind.Deterministic, ct);
        var clock = Stopwatch.StartNew();
        var seeds = Enumerable.Range(0, k).Select(i => (int)Settings.Seed + i).ToList();
        var rand = new List<double>();
        var det = new List<double>();
        var randExcess = new List<double>();
        var detExcess = new List<double>();
        foreach (var seed in seeds)
        {
            ct.ThrowIfCancellationRequested();
            using var trained = RobustLinearTrainer.TrainOrLoad(Dir(Path.Combine("seeds", $"robust-linear-{seed}")), DataIdentity,
                Train.Images, Train.Labels, RobustOptions(seed: seed), Device, null, Observer.Log, ct);
            using var w = trained.Model.weight.detach().to(CPU);
            var probe = Probe(seed - (int)Settings.Seed);
            using var scope = NewDisposeScope();
            var fTest = LeakageProbe.Features(w, Test.Images);
            var fClean = LeakageProbe.Features(w, Train.Images);
            // Each seed's probes against their matched nulls (clean originals, same labels); the target draw is the run's one.
            foreach (var (name, images, labels, acc, excess) in new[] { ("D_rand", drand.Images, drand.Targets, rand, randExcess), ("D_det", ddet.Images, ddet.Targets, det, detExcess) })
            {
                var attacked = probe.RunOnFeatures(name, LeakageProbe.Features(w, images), labels, fTest, Test.Labels);
                var baseline = probe.RunOnFeatures($"clean images, {name} labels", fClean, labels, fTest, Test.Labels);
                WarnUnconverged(attacked); WarnUnconverged(baseline);
                acc.Add(attacked.Accuracy);
                excess.Add(attacked.Accuracy - baseline.Accuracy);
            }
            Observer.Progress(new StepProgress("probeSeeds", (double)rand.Count / k, $"seed {seed}: D_rand {rand[^1]:P2}, D_det {det[^1]:P2}"));
        }
        var study = new ProbeSeedStudy(seeds, rand, det);
        JsonObject Stat(IReadOnlyList<double> v) => new()
        {
            ["values"] = new JsonArray(v.Select(x => (JsonNode)x).ToArray()),
            ["mean"] = ProbeSeedStudy.Mean(v),
            ["sd"] = v.Count < 2 ? null : ProbeSeedStudy.Sd(v),
            ["min"] = v.Min(),
            ["max"] = v.Max(),
        };
        Results.Set("beyond.probeSeeds", new JsonObject
        {
            ["seeds"] = new JsonArray(seeds.Select(x => (JsonNode)x).ToArray()),
            ["drand"] = Stat(rand),
            ["ddet"] = Stat(det),
            ["drandExcessOverNull"] = Stat(randExcess),
            ["ddetExcessOverNull"] = Stat(detExcess),
        });
        Results.Set("seconds.probeSeeds", clock.Elapsed.TotalSeconds);
        return study;
    }

    /// <summary>Runs the extensions switched on in <c>beyond.*</c>.</summary>
    public void RunBeyond(CancellationToken ct = default)
    {
        var b = Settings.Beyond;
        if (b.Nonlinear) NonlinearFeatures(ct);
        if (b.SweepRadii.Length > 0) RadiusSweep(ct);
        if (b.ReleasedData != null) ReleasedLeakage(ct);
        if (b.Seeds > 1) ProbeSeeds(ct);
    }
}
