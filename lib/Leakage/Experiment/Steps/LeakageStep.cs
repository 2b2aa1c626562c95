using Leakage.Randomness;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Leakage.Adversarial;
using Leakage.IO;
using Leakage.Models;
using Leakage.Probes;
using static TorchSharp.torch;

namespace Leakage.Experiment;

/// <summary>The leakage probe results (Goh) and their controls; the matched nulls are in <see cref="Comparisons"/>.</summary>
public sealed record LeakageOutcome(ProbeEntry DRand, ProbeEntry DDet, LeakageProbeControls Controls, double Seconds)
{
    /// <summary>Each probe against its matched null: excess with its uncertainty, McNemar test, null over target draws, feature shift.</summary>
    public LeakageComparisons? Comparisons { get; init; }
}

/// <summary>The three leakage probes, each against its matched null.</summary>
public sealed record LeakageComparisons(LeakageComparison DRand, LeakageComparison DDet, LeakageComparison DRandTargetNotLabel)
{
    /// <summary>The three in order.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlyList<LeakageComparison> All => [DRand, DDet, DRandTargetNotLabel];
}

/// <summary>The probes that make Goh's two readable, each by name (results.json <c>leakage.controls</c>).</summary>
/// <param name="CleanD">The probe on the clean training images with their true labels: the most the ten features can do.</param>
/// <param name="DRandRandomFeatures">Ten random directions with the w_i's norms, trained on D_rand.</param>
/// <param name="DDetRandomFeatures">The same on D_det.</param>
/// <param name="DRandTargetNotLabel">D_rand without the images whose target equals their label.</param>
/// <param name="Chance">1 / classes.</param>
/// <param name="MajorityClass">Always the test set's most frequent class.</param>
public sealed record LeakageProbeControls(ProbeEntry CleanD, ProbeEntry DRandRandomFeatures, ProbeEntry DDetRandomFeatures, ProbeEntry DRandTargetNotLabel,
    ProbeEntry Chance, ProbeEntry MajorityClass)
{
    /// <summary>The six in table order.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlyList<ProbeEntry> All => [CleanD, DRandRandomFeatures, DDetRandomFeatures, DRandTargetNotLabel, Chance, MajorityClass];
}

/// <summary>What the leakage step keeps in <c>leakage/leakage.json</c>: the outcome and its results.json sections.</summary>
public sealed record LeakageCache(LeakageOutcome Outcome, LeakageResult Leakage, LeakageControlsResult Controls);

/// <summary>
/// Step 4: the probe on C's ten features trained on D_rand and D_det (new labels) and scored on the
/// clean test set with its true labels, with controls: clean D, random non-robust directions, D_rand
/// without the images whose random target equals their label, chance and the majority class. Each of
/// D_rand, D_det and D_rand with target ≠ label is compared with its matched null (the same probe on
/// the clean originals with the same labels, <see cref="UnperturbedControls"/>). The excess over it has
/// one standard error behind its interval, p-value and verdict (docs/statistics.md): for the random
/// targets, the spread of the excess over <c>probe.nullDraws</c> fresh target draws (the null refitted
/// on each, the probe on the attacked set emulated for it) plus the test points; for D_det, a bootstrap
/// of training images within classes and test points. McNemar's exact test on the test points is kept
/// beside it, and each set's feature shift (f_target - f_label, attacked minus clean) is measured.
/// Cached in <c>leakage/</c> like the other steps: its <c>metadata.json</c> holds the probe settings,
/// the statistics' version and the checksums of C and of both sets.
/// </summary>
public sealed class LeakageStep(ExperimentRun run)
{
    /// <summary>Kind of the artifact in <c>leakage/metadata.json</c>.</summary>
    public const string ArtifactKind = "leakage-probes";
    const string Folder = "leakage", FileName = "leakage.json";
    /// <summary>Version of the step's statistics in the cache identity: probes fitted under another are refitted.</summary>
    public const int StatisticsVersion = 3;

    LeakageOutcome? _outcome;

    /// <summary>Runs (or loads) the probes and their comparisons.</summary>
    public LeakageOutcome Run(CancellationToken ct = default)
    {
        if (_outcome != null) return _outcome;
        var robust = run.RobustModel(ct);
        var drand = run.AdversarialSet(AdversarialKind.Random, ct);
        var ddet = run.AdversarialSet(AdversarialKind.Deterministic, ct);
        run.EnsureOriginals(drand);
        run.EnsureOriginals(ddet);
        using var scope = NewDisposeScope();
        var w = robust.Weights.detach().to(CPU);
        var dir = run.Folder(Folder);
        var identity = new JsonObject
        {
            ["probe"] = Artifacts.ToNode(run.Settings.Probe),
            ["seed"] = run.Settings.Seed,
            ["attack"] = Artifacts.ToNode(AdversarialStep.Options(run.Settings)),
            ["data"] = run.DataIdentity,
            ["robustFeatures"] = Fingerprint.Of(w),
            ["drand"] = Fingerprint.Of(drand.Images, drand.Targets),
            ["ddet"] = Fingerprint.Of(ddet.Images, ddet.Targets),
            // 2: the excess's uncertainty from emulated fresh draws, p-values from it, feature shifts; 3: the controls by name in leakage.json.
            ["statistics"] = StatisticsVersion,
        };
        // A work unit: a second worker on the run folder waits for these probes and loads them.
        var cache = Leakage.Experiment.Scaling.TrainingUnits.Run(run, Folder, LoadOrFit, c => c.Outcome.Seconds, ct);
        LeakageCache LoadOrFit()
        {
            if (Artifacts.TryValidate(dir, ArtifactKind, identity, out var reason))
            {
                run.Observer.Log($"Leakage probes: reusing {dir}.");
                return JsonSerializer.Deserialize(File.ReadAllText(Path.Combine(dir, FileName)), ResultsJsonContext.Default.LeakageCache)
                    ?? throw new InvalidDataException($"{Path.Combine(dir, FileName)}: empty.");
            }
            run.Observer.Log($"Leakage probes: fitting ({reason}).");
            var clock = Stopwatch.StartNew();
            var (outcome, leakage, controls) = Compute(w, drand, ddet);
            var fitted = new LeakageCache(outcome with { Seconds = clock.Elapsed.TotalSeconds }, leakage, controls);
            Directory.CreateDirectory(dir);
            AtomicFile.WriteAllText(Path.Combine(dir, FileName), JsonSerializer.Serialize(fitted, ResultsJsonContext.Default.LeakageCache));
            Artifacts.Commit(dir, ArtifactKind, identity, [FileName]);
            return fitted;
        }
        var o = cache.Outcome;
        foreach (var e in o.Controls.All.Prepend(o.DDet).Prepend(o.DRand)) { run.Observer.Log($"Leakage probe: {e}"); run.WarnUnconverged(e); }
        foreach (var c in o.Comparisons!.All) { run.Observer.Log($"Leakage against the null: {c}"); run.WarnUnconverged(c.Null); }
        run.Results.Set(StepCatalog.Leakage.ResultsKey, ResultsJson.Node(cache.Leakage));
        run.Results.Set(LeakageControls.ResultsKey, ResultsJson.Node(cache.Controls));
        run.Results.SetSeconds(StepCatalog.Leakage, o.Seconds);
        return _outcome = o;
    }

    (LeakageOutcome, LeakageResult, LeakageControlsResult) Compute(Tensor w, AdversarialDataset drand, AdversarialDataset ddet)
    {
        var probe = run.Probe();
        var p = run.Settings.Probe;
        var (train, testX, testY) = (run.Train, run.Test.Images, run.Test.Labels);
        // The probe sees only the ten features per image: computed once, reused by every fit below.
        var fTest = LeakageProbe.Features(w, testX);
        var fClean = LeakageProbe.Features(w, train.Images);
        var fRand = LeakageProbe.Features(w, drand.Images);
        var fDet = LeakageProbe.Features(w, ddet.Images);
        // Strata of the training bootstrap: each image's true class (the class composition is fixed by design).
        var classOf = train.Labels.to(ScalarType.Int64).cpu().data<long>().Select(c => (int)c).ToArray();
        var keep = drand.Targets.ne(drand.Labels).nonzero().squeeze(1);
        var kept = keep.data<long>().ToArray();
        var key = StepCatalog.Leakage.Key;

        // The null over fresh target draws, drawn by D_rand's rule chunk by chunk exactly as the attack drew its targets.
        var draws = Enumerable.Range(0, p.NullDraws).Select(d =>
            AdversarialSet.DRand.DrawTargets(train.Labels, run.AttackOptions() with { Seed = unchecked((long)Seeds.Derive(run.Settings.Seed, 15, d)) })).ToList();
        run.Observer.Progress(new StepProgress(key, 0.05, $"null over {p.NullDraws} target draws"));
        var nullRand = LeakageStatistics.OverDraws(probe, draws.Count, d => (fClean, draws[d]), fTest, testY);
        var nullNotLabel = LeakageStatistics.OverDraws(probe, draws.Count, d =>
        {
            var k = draws[d].ne(train.Labels).nonzero().squeeze(1);
            return (fClean.index_select(0, k), draws[d].index_select(0, k));
        }, fTest, testY);
        run.Observer.Log($"Leakage null over target draws: D_rand {nullRand}; D_rand with target ≠ label {nullNotLabel}.");

        // Each fresh draw's attacked set, emulated: every image moved by the recorded shift of an image of
        // its class attacked towards its new target (LeakageStatistics.Donors; docs/statistics.md).
        var recorded = drand.Targets.to(ScalarType.Int64).cpu().data<long>().ToArray();
        var donors = draws.Select((t, d) => LeakageStatistics.Donors(classOf, recorded, t.to(ScalarType.Int64).cpu().data<long>().ToArray(), probe.Options.Classes,
            new Random(unchecked((int)Seeds.Derive(run.Settings.Seed, 16, d))))).ToList();
        (Tensor, Tensor) FreshRand(int d) => (LeakageStatistics.Emulate(fRand, fClean, donors[d]), draws[d]);
        (Tensor, Tensor) FreshNotLabel(int d)
        {
            var k = draws[d].ne(train.Labels).nonzero().squeeze(1);
            return (LeakageStatistics.Emulate(fRand, fClean, donors[d]).index_select(0, k), draws[d].index_select(0, k));
        }

        run.Observer.Progress(new StepProgress(key, 0.15, $"D_rand against its null, {p.NullDraws} fresh draws, {p.TrainingResamples} training resamples"));
        var rand = LeakageStatistics.Compare(probe, "D_rand, robust features", "clean images, D_rand labels", fRand, fClean, drand.Targets, fTest, testY,
            classOf, p.TrainingResamples, nullRand, FreshRand) with { Shift = LeakageStatistics.Shift(fRand, fClean, train.Labels, drand.Targets, fClean, probe.Options.Level) };
        run.Observer.Progress(new StepProgress(key, 0.45, "D_det against its null"));
        var det = LeakageStatistics.Compare(probe, "D_det, robust features", "clean images, D_det labels", fDet, fClean, ddet.Targets, fTest, testY,
            classOf, p.TrainingResamples) with { Shift = LeakageStatistics.Shift(fDet, fClean, train.Labels, ddet.Targets, fClean, probe.Options.Level) };
        run.Observer.Progress(new StepProgress(key, 0.7, "D_rand with target ≠ label against its null"));
        var notLabel = LeakageStatistics.Compare(probe, "D_rand with target ≠ label, robust features", "clean images, D_rand labels, target ≠ label",
            fRand.index_select(0, keep), fClean.index_select(0, keep), drand.Targets.index_select(0, keep), fTest, testY,
            kept.Select(i => classOf[i]).ToArray(), p.TrainingResamples, nullNotLabel, FreshNotLabel)
            with { Shift = LeakageStatistics.Shift(fRand.index_select(0, keep), fClean.index_select(0, keep), train.Labels.index_select(0, keep), drand.Targets.index_select(0, keep), fClean, probe.Options.Level) };
        var comparisons = new LeakageComparisons(rand, det, notLabel);

        var chance = probe.Chance(testY);
        var controls = new LeakageProbeControls(
            probe.RunOnFeatures("clean D, robust features", fClean, train.Labels, fTest, testY),
            probe.RunRandomDirections("D_rand, random features", w, drand.Images, drand.Targets, testX, testY),
            probe.RunRandomDirections("D_det, random features", w, ddet.Images, ddet.Targets, testX, testY),
            notLabel.Probe, chance[0], chance[1]);
        var outcome = new LeakageOutcome(rand.Probe, det.Probe, controls, 0) { Comparisons = comparisons };
        return (outcome, LeakageResult.Of(comparisons, controls, probe.Options), LeakageControlsResult.Of(comparisons));
    }
}
